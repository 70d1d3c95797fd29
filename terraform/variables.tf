################################################################################
# General
################################################################################

variable "region" {
  description = "AWS region to deploy to (put the dataset buckets in the same region)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "The region must be an AWS region name such as us-east-1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name: functions are PREFIX-worker, PREFIX-query-invoker and PREFIX-register-dataset."
  type        = string
  default     = "frocket"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name_prefix)) && !can(regex("--|-$", var.name_prefix))
    error_message = "The name_prefix must be 2-21 characters: lowercase letters, digits and single hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "tags" {
  description = "Tags added to every resource (provider default_tags)."
  type        = map(string)
  default = {
    Project = "funnel-rocket"
  }
}

################################################################################
# Network
################################################################################

variable "vpc_id" {
  description = "Existing VPC to deploy into. Null creates a VPC with private subnets in az_count AZs."
  type        = string
  default     = null

  validation {
    condition     = var.vpc_id == null ? true : can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "The vpc_id must look like vpc-0123456789abcdef0 (or be null to create a VPC)."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets of the existing VPC (at least 2 AZs). Required with vpc_id."
  type        = list(string)
  default     = null

  validation {
    condition     = var.private_subnet_ids == null ? true : length(var.private_subnet_ids) >= 2
    error_message = "Give at least 2 private subnets, in different availability zones."
  }
}

variable "private_route_table_ids" {
  description = "Route tables of the existing private subnets, for the S3 gateway endpoint. Required with vpc_id (unless create_s3_endpoint is false)."
  type        = list(string)
  default     = null
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC created when vpc_id is null."
  type        = string
  default     = "10.42.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr))
    error_message = "The vpc_cidr must be an IPv4 CIDR block."
  }
}

variable "az_count" {
  description = "Availability zones (private subnets) of the VPC created when vpc_id is null."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 6
    error_message = "The az_count must be from 2 to 6."
  }
}

variable "availability_zones" {
  description = "Zones for the private subnets of the VPC created when vpc_id is null. Empty takes the region's first az_count zones."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.availability_zones) == 0 || length(var.availability_zones) >= 2
    error_message = "Give no zones, or at least 2 (Redis needs a replica in another AZ)."
  }
}

variable "create_s3_endpoint" {
  description = "Create the S3 gateway endpoint on the private route tables (false only if the existing VPC has one)."
  type        = bool
  default     = true
}

variable "interface_endpoint_services" {
  description = "Interface VPC endpoints to create (private DNS): the query-invoker needs \"lambda\" and every function \"secretsmanager\" (the Redis AUTH token) unless the subnets have a NAT gateway. About $7.3/month per AZ each."
  type        = list(string)
  default     = ["lambda", "secretsmanager"]
}

variable "functions_https_egress_cidr_blocks" {
  description = "Extra CIDR blocks the functions may reach on 443 (e.g. [\"0.0.0.0/0\"] behind your own NAT gateway)."
  type        = list(string)
  default     = []
}

variable "enable_flow_logs" {
  description = "VPC flow logs (rejected traffic) to CloudWatch Logs, for the VPC created here."
  type        = bool
  default     = true
}

################################################################################
# Redis (ElastiCache)
################################################################################

variable "redis_node_type" {
  description = "Cache node type (current generation, never cache.t2.*)."
  type        = string
  default     = "cache.t4g.small"

  validation {
    condition     = !can(regex("^cache\\.t2\\.", var.redis_node_type)) && can(regex("^cache\\.", var.redis_node_type))
    error_message = "The redis_node_type must be a current generation cache node type such as cache.t4g.small (never cache.t2.*)."
  }
}

variable "redis_num_cache_clusters" {
  description = "Cache nodes: a primary and replicas in other AZs (at least 2)."
  type        = number
  default     = 2

  validation {
    condition     = var.redis_num_cache_clusters >= 2
    error_message = "The redis_num_cache_clusters must be at least 2 (a primary and a replica)."
  }
}

variable "redis_engine_version" {
  description = "Redis engine version (7.x; the parameter group family is redis7)."
  type        = string
  default     = "7.1"

  validation {
    condition     = can(regex("^7\\.", var.redis_engine_version))
    error_message = "The redis_engine_version must be a 7.x version."
  }
}

variable "redis_kms_key_arn" {
  description = "KMS key for Redis encryption at rest. Null uses the AWS owned key."
  type        = string
  default     = null

  validation {
    condition     = var.redis_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:", var.redis_kms_key_arn))
    error_message = "The redis_kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "redis_secret_kms_key_arn" {
  description = "Customer managed KMS key for the Secrets Manager secret holding the Redis AUTH token (the functions read it at cold start). Null uses the AWS managed key."
  type        = string
  default     = null

  validation {
    condition     = var.redis_secret_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:", var.redis_secret_kms_key_arn))
    error_message = "The redis_secret_kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

################################################################################
# Datasets
################################################################################

variable "create_dataset_bucket" {
  description = "Create a dataset bucket (encrypted, private, versioned, TLS only)."
  type        = bool
  default     = true
}

variable "dataset_bucket_name" {
  description = "Name of the bucket created when create_dataset_bucket is true. Null means PREFIX-datasets-ACCOUNT_ID."
  type        = string
  default     = null

  validation {
    condition     = var.dataset_bucket_name == null ? true : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.dataset_bucket_name))
    error_message = "The dataset_bucket_name must be a valid S3 bucket name."
  }
}

variable "dataset_bucket_force_destroy" {
  description = "Let terraform destroy delete the created bucket with all its objects."
  type        = bool
  default     = false
}

variable "dataset_bucket_kms_key_arn" {
  description = "Customer managed KMS key for the created bucket. Null uses the AWS managed aws/s3 key."
  type        = string
  default     = null

  validation {
    condition     = var.dataset_bucket_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:", var.dataset_bucket_kms_key_arn))
    error_message = "The dataset_bucket_kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "dataset_bucket_names" {
  description = "Existing buckets holding datasets, by name: the functions get read-only access (s3:GetObject, s3:ListBucket) to them too."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for b in var.dataset_bucket_names : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", b))])
    error_message = "Give bucket names, not ARNs or s3:// URLs."
  }
}

variable "dataset_kms_key_arns" {
  description = "Customer managed KMS keys of the existing dataset buckets (kms:Decrypt is granted on them)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for k in var.dataset_kms_key_arns : can(regex("^arn:aws[a-z-]*:kms:", k))])
    error_message = "Every entry must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary for the functions' roles, if your organisation requires one."
  type        = string
  default     = null
}

################################################################################
# Functions
################################################################################

variable "lambda_build_dir" {
  description = "Where make build (cargo lambda build --output-format zip) leaves NAME/bootstrap.zip: $CARGO_TARGET_DIR/lambda."
  type        = string
  default     = "/var/tmp/frocket-target/lambda"

  validation {
    condition     = length(var.lambda_build_dir) > 0
    error_message = "The lambda_build_dir must not be empty."
  }
}

variable "worker_zip_path" {
  description = "Path of the worker zip. Null means LAMBDA_BUILD_DIR/worker/bootstrap.zip."
  type        = string
  default     = null

  validation {
    condition     = var.worker_zip_path == null ? true : can(regex("\\.zip$", var.worker_zip_path))
    error_message = "The worker_zip_path must be the path of a .zip file."
  }
}

variable "invoker_zip_path" {
  description = "Path of the query-invoker zip. Null means LAMBDA_BUILD_DIR/query-invoker/bootstrap.zip."
  type        = string
  default     = null

  validation {
    condition     = var.invoker_zip_path == null ? true : can(regex("\\.zip$", var.invoker_zip_path))
    error_message = "The invoker_zip_path must be the path of a .zip file."
  }
}

variable "register_zip_path" {
  description = "Path of the register-dataset zip. Null means LAMBDA_BUILD_DIR/register-dataset/bootstrap.zip."
  type        = string
  default     = null

  validation {
    condition     = var.register_zip_path == null ? true : can(regex("\\.zip$", var.register_zip_path))
    error_message = "The register_zip_path must be the path of a .zip file."
  }
}

variable "architecture" {
  description = "Instruction set of the functions (make build produces arm64)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "The architecture must be arm64 or x86_64."
  }
}

variable "worker_memory_mb" {
  description = "Worker memory in MB; 1769 MB is one full vCPU. Several times the largest part's compressed size."
  type        = number
  default     = 1769

  validation {
    condition     = var.worker_memory_mb >= 128 && var.worker_memory_mb <= 10240
    error_message = "The worker_memory_mb must be from 128 to 10240."
  }
}

variable "worker_timeout" {
  description = "Worker timeout in seconds (one task over one part)."
  type        = number
  default     = 30

  validation {
    condition     = var.worker_timeout >= 1 && var.worker_timeout <= 900
    error_message = "The worker_timeout must be from 1 to 900 seconds."
  }
}

variable "worker_reserved_concurrency" {
  description = "Reserved concurrency of the worker; -1 leaves it unreserved."
  type        = number
  default     = -1

  validation {
    condition     = var.worker_reserved_concurrency >= -1
    error_message = "The worker_reserved_concurrency must be -1 or more."
  }
}

variable "max_event_age_seconds" {
  description = "Maximum age of an asynchronous event (worker tasks, async queries); retries are always 0."
  type        = number
  default     = 120

  validation {
    condition     = var.max_event_age_seconds >= 60 && var.max_event_age_seconds <= 300
    error_message = "The max_event_age_seconds must be from 60 to 300."
  }
}

variable "invoker_memory_mb" {
  description = "Query-invoker memory in MB."
  type        = number
  default     = 1024

  validation {
    condition     = var.invoker_memory_mb >= 128 && var.invoker_memory_mb <= 10240
    error_message = "The invoker_memory_mb must be from 128 to 10240."
  }
}

variable "invoker_timeout" {
  description = "Query-invoker timeout in seconds; above invoker_run_timeout, since an asynchronous query (POST /queries) runs in one invocation."
  type        = number
  default     = 90

  validation {
    condition     = var.invoker_timeout >= 1 && var.invoker_timeout <= 900
    error_message = "The invoker_timeout must be from 1 to 900 seconds."
  }
}

variable "register_timeout" {
  description = "Register-dataset timeout in seconds."
  type        = number
  default     = 300

  validation {
    condition     = var.register_timeout >= 1 && var.register_timeout <= 900
    error_message = "The register_timeout must be from 1 to 900 seconds."
  }
}

variable "invoker_lambda_concurrency" {
  description = "Worker invocations in flight per query (FROCKET_INVOKER_LAMBDA_CONCURRENCY)."
  type        = number
  default     = 64

  validation {
    condition     = var.invoker_lambda_concurrency >= 1 && var.invoker_lambda_concurrency <= 1000
    error_message = "The invoker_lambda_concurrency must be from 1 to 1000."
  }
}

variable "invoker_run_timeout" {
  description = "Seconds a whole query may take (FROCKET_INVOKER_RUN_TIMEOUT); below invoker_timeout."
  type        = number
  default     = 60

  validation {
    condition     = var.invoker_run_timeout >= 1 && var.invoker_run_timeout <= 890
    error_message = "The invoker_run_timeout must be from 1 to 890 seconds."
  }
}

variable "worker_disk_cache_size_mb" {
  description = "Worker parts disk cache under /tmp (FROCKET_WORKER_DISK_CACHE_SIZE_MB)."
  type        = number
  default     = 256

  validation {
    condition     = var.worker_disk_cache_size_mb >= 0
    error_message = "The worker_disk_cache_size_mb must not be negative."
  }
}

variable "api_admin_actions" {
  description = "Let callers of the query API register and unregister datasets (FROCKET_APISERVER_ADMIN_ACTIONS on the query-invoker). Off: registration goes through the register-dataset function only."
  type        = bool
  default     = false
}

variable "api_error_details" {
  description = "Put internal error details in the query API's 5xx answers (FROCKET_APISERVER_ERROR_DETAILS on the query-invoker). Off: the kind and the request id only; details go to the log."
  type        = bool
  default     = false
}

variable "log_level" {
  description = "Log level of the functions (FROCKET_LOG_LEVEL)."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["error", "warn", "info", "debug", "trace"], var.log_level)
    error_message = "The log_level must be error, warn, info, debug or trace."
  }
}

variable "extra_environment" {
  description = "More FROCKET_* environment variables for the three functions."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_environment) : !can(regex("^AWS_", k))])
    error_message = "Environment variable names starting with AWS_ are reserved by Lambda."
  }
}

variable "lambda_kms_key_arn" {
  description = "KMS key encrypting the functions' environment variables. Null uses the AWS managed key."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:", var.lambda_kms_key_arn))
    error_message = "The lambda_kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing of the functions: PassThrough or Active."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "The tracing_mode must be PassThrough or Active."
  }
}

################################################################################
# Logs
################################################################################

variable "log_retention_days" {
  description = "Retention of every log group (functions, API access logs, flow logs), in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be a value CloudWatch Logs allows (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key encrypting every log group. Null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:", var.log_kms_key_arn))
    error_message = "The log_kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

################################################################################
# API
################################################################################

variable "api_authorization_type" {
  description = "Authorization of the HTTP API: AWS_IAM (SigV4) or JWT. Never NONE."
  type        = string
  default     = "AWS_IAM"

  validation {
    condition     = contains(["AWS_IAM", "JWT"], var.api_authorization_type)
    error_message = "The api_authorization_type must be AWS_IAM or JWT; the API is never open."
  }
}

variable "jwt_issuer" {
  description = "JWT issuer URL, when api_authorization_type is JWT."
  type        = string
  default     = null

  validation {
    condition     = var.jwt_issuer == null ? true : can(regex("^https://", var.jwt_issuer))
    error_message = "The jwt_issuer must be an https:// URL."
  }
}

variable "jwt_audience" {
  description = "Accepted JWT audiences, when api_authorization_type is JWT."
  type        = list(string)
  default     = []
}

variable "api_throttling_burst_limit" {
  description = "Default stage burst limit (requests)."
  type        = number
  default     = 50

  validation {
    condition     = var.api_throttling_burst_limit >= 1
    error_message = "The api_throttling_burst_limit must be at least 1."
  }
}

variable "api_throttling_rate_limit" {
  description = "Default stage rate limit (requests per second)."
  type        = number
  default     = 20

  validation {
    condition     = var.api_throttling_rate_limit >= 1
    error_message = "The api_throttling_rate_limit must be at least 1."
  }
}
