variable "worker_function_name" {
  description = "Name of the worker function."
  type        = string
  default     = "frocket-worker"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.worker_function_name))
    error_message = "The worker_function_name must be 1-64 letters, digits, hyphens or underscores."
  }
}

variable "invoker_function_name" {
  description = "Name of the query-invoker function."
  type        = string
  default     = "frocket-query-invoker"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.invoker_function_name))
    error_message = "The invoker_function_name must be 1-64 letters, digits, hyphens or underscores."
  }
}

variable "register_function_name" {
  description = "Name of the register-dataset function."
  type        = string
  default     = "frocket-register-dataset"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.register_function_name))
    error_message = "The register_function_name must be 1-64 letters, digits, hyphens or underscores."
  }
}

variable "worker_role_arn" {
  description = "Execution role ARN of the worker function (iam module)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", var.worker_role_arn))
    error_message = "The worker_role_arn must be an IAM role ARN."
  }
}

variable "invoker_role_arn" {
  description = "Execution role ARN of the query-invoker function (iam module)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", var.invoker_role_arn))
    error_message = "The invoker_role_arn must be an IAM role ARN."
  }
}

variable "register_role_arn" {
  description = "Execution role ARN of the register-dataset function (iam module)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", var.register_role_arn))
    error_message = "The register_role_arn must be an IAM role ARN."
  }
}

variable "worker_zip_path" {
  description = "Path of the worker zip built by cargo-lambda (make build writes /var/tmp/frocket-target/lambda/worker/bootstrap.zip)."
  type        = string

  validation {
    condition     = can(regex("\\.zip$", var.worker_zip_path))
    error_message = "The worker_zip_path must be the path of a .zip file."
  }
}

variable "invoker_zip_path" {
  description = "Path of the query-invoker zip built by cargo-lambda (make build writes /var/tmp/frocket-target/lambda/query-invoker/bootstrap.zip)."
  type        = string

  validation {
    condition     = can(regex("\\.zip$", var.invoker_zip_path))
    error_message = "The invoker_zip_path must be the path of a .zip file."
  }
}

variable "register_zip_path" {
  description = "Path of the register-dataset zip built by cargo-lambda (make build writes /var/tmp/frocket-target/lambda/register-dataset/bootstrap.zip)."
  type        = string

  validation {
    condition     = can(regex("\\.zip$", var.register_zip_path))
    error_message = "The register_zip_path must be the path of a .zip file."
  }
}

variable "architecture" {
  description = "Instruction set of the functions: arm64 (what make build produces; cheaper per GB-second) or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "The architecture must be arm64 or x86_64."
  }
}

variable "runtime" {
  description = "Lambda runtime of the Rust bootstrap binaries."
  type        = string
  default     = "provided.al2023"

  validation {
    condition     = contains(["provided.al2023", "provided.al2"], var.runtime)
    error_message = "The runtime must be provided.al2023 or provided.al2 (OS-only runtimes for a bootstrap binary)."
  }
}

variable "handler" {
  description = "Handler name (ignored by OS-only runtimes; cargo-lambda names the binary bootstrap)."
  type        = string
  default     = "bootstrap"

  validation {
    condition     = length(var.handler) > 0
    error_message = "The handler must not be empty."
  }
}

variable "worker_memory_mb" {
  description = "Memory of the worker function in MB (CPU is allocated in proportion: 1769 MB is one full vCPU)."
  type        = number
  default     = 1769

  validation {
    condition     = var.worker_memory_mb >= 128 && var.worker_memory_mb <= 10240 && floor(var.worker_memory_mb) == var.worker_memory_mb
    error_message = "The worker_memory_mb must be a whole number of MB from 128 to 10240."
  }
}

variable "worker_timeout" {
  description = "Timeout of the worker function in seconds (one task over one part)."
  type        = number
  default     = 30

  validation {
    condition     = var.worker_timeout >= 1 && var.worker_timeout <= 900 && floor(var.worker_timeout) == var.worker_timeout
    error_message = "The worker_timeout must be a whole number of seconds from 1 to 900."
  }
}

variable "worker_ephemeral_storage_mb" {
  description = "Ephemeral storage (/tmp) of the worker function in MB: holds the parts disk cache (worker_disk_cache_size_mb) and the part being read."
  type        = number
  default     = 512

  validation {
    condition     = var.worker_ephemeral_storage_mb >= 512 && var.worker_ephemeral_storage_mb <= 10240 && floor(var.worker_ephemeral_storage_mb) == var.worker_ephemeral_storage_mb
    error_message = "The worker_ephemeral_storage_mb must be a whole number of MB from 512 to 10240."
  }
}

variable "worker_reserved_concurrency" {
  description = "Reserved concurrency of the worker function; -1 leaves it unreserved, 0 disables the function."
  type        = number
  default     = -1

  validation {
    condition     = var.worker_reserved_concurrency >= -1 && floor(var.worker_reserved_concurrency) == var.worker_reserved_concurrency
    error_message = "The worker_reserved_concurrency must be a whole number, -1 or more."
  }
}

variable "max_event_age_seconds" {
  description = "Maximum age of an asynchronous event (worker tasks, async queries) before Lambda drops it; retries are always 0."
  type        = number
  default     = 120

  validation {
    condition     = var.max_event_age_seconds >= 60 && var.max_event_age_seconds <= 300
    error_message = "The max_event_age_seconds must be from 60 to 300: older events belong to queries that have given up."
  }
}

variable "invoker_memory_mb" {
  description = "Memory of the query-invoker function in MB (CPU is allocated in proportion: 1769 MB is one full vCPU)."
  type        = number
  default     = 1024

  validation {
    condition     = var.invoker_memory_mb >= 128 && var.invoker_memory_mb <= 10240 && floor(var.invoker_memory_mb) == var.invoker_memory_mb
    error_message = "The invoker_memory_mb must be a whole number of MB from 128 to 10240."
  }
}

variable "invoker_timeout" {
  description = "Timeout of the query-invoker function in seconds: must exceed invoker_run_timeout, because POST /queries runs the whole query in one asynchronous self-invocation (API Gateway still answers synchronous requests within 30 s)."
  type        = number
  default     = 90

  validation {
    condition     = var.invoker_timeout >= 1 && var.invoker_timeout <= 900 && floor(var.invoker_timeout) == var.invoker_timeout
    error_message = "The invoker_timeout must be a whole number of seconds from 1 to 900."
  }
}

variable "invoker_ephemeral_storage_mb" {
  description = "Ephemeral storage (/tmp) of the query-invoker function in MB. It never reads parts (workers inspect them at registration), so the minimum is enough."
  type        = number
  default     = 512

  validation {
    condition     = var.invoker_ephemeral_storage_mb >= 512 && var.invoker_ephemeral_storage_mb <= 10240 && floor(var.invoker_ephemeral_storage_mb) == var.invoker_ephemeral_storage_mb
    error_message = "The invoker_ephemeral_storage_mb must be a whole number of MB from 512 to 10240."
  }
}

variable "invoker_reserved_concurrency" {
  description = "Reserved concurrency of the query-invoker function; -1 leaves it unreserved, 0 disables the function."
  type        = number
  default     = -1

  validation {
    condition     = var.invoker_reserved_concurrency >= -1 && floor(var.invoker_reserved_concurrency) == var.invoker_reserved_concurrency
    error_message = "The invoker_reserved_concurrency must be a whole number, -1 or more."
  }
}

variable "register_memory_mb" {
  description = "Memory of the register-dataset function in MB (CPU is allocated in proportion: 1769 MB is one full vCPU)."
  type        = number
  default     = 1024

  validation {
    condition     = var.register_memory_mb >= 128 && var.register_memory_mb <= 10240 && floor(var.register_memory_mb) == var.register_memory_mb
    error_message = "The register_memory_mb must be a whole number of MB from 128 to 10240."
  }
}

variable "register_timeout" {
  description = "Timeout of the register-dataset function in seconds (lists every part, then waits for the workers to inspect the sampled ones)."
  type        = number
  default     = 300

  validation {
    condition     = var.register_timeout >= 1 && var.register_timeout <= 900 && floor(var.register_timeout) == var.register_timeout
    error_message = "The register_timeout must be a whole number of seconds from 1 to 900."
  }
}

variable "register_ephemeral_storage_mb" {
  description = "Ephemeral storage (/tmp) of the register-dataset function in MB. It never reads parts (workers inspect them), so the minimum is enough."
  type        = number
  default     = 512

  validation {
    condition     = var.register_ephemeral_storage_mb >= 512 && var.register_ephemeral_storage_mb <= 10240 && floor(var.register_ephemeral_storage_mb) == var.register_ephemeral_storage_mb
    error_message = "The register_ephemeral_storage_mb must be a whole number of MB from 512 to 10240."
  }
}

variable "register_reserved_concurrency" {
  description = "Reserved concurrency of the register-dataset function; -1 leaves it unreserved, 0 disables the function."
  type        = number
  default     = -1

  validation {
    condition     = var.register_reserved_concurrency >= -1 && floor(var.register_reserved_concurrency) == var.register_reserved_concurrency
    error_message = "The register_reserved_concurrency must be a whole number, -1 or more."
  }
}

variable "subnet_ids" {
  description = "Private subnets the functions run in."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "Give at least one subnet."
  }
}

variable "security_group_ids" {
  description = "Security groups of the functions (the network module's functions group)."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) >= 1
    error_message = "Give at least one security group."
  }
}

variable "redis_host" {
  description = "Redis primary endpoint (FROCKET_REDIS_HOST)."
  type        = string

  validation {
    condition     = length(var.redis_host) > 0
    error_message = "The redis_host must not be empty."
  }
}

variable "redis_port" {
  description = "Redis port (FROCKET_REDIS_PORT)."
  type        = number
  default     = 6379

  validation {
    condition     = var.redis_port >= 1 && var.redis_port <= 65535
    error_message = "The redis_port must be from 1 to 65535."
  }
}

variable "redis_tls" {
  description = "Connect to Redis over TLS (FROCKET_REDIS_TLS); ElastiCache with in-transit encryption needs it."
  type        = bool
  default     = true
}

variable "redis_auth_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the Redis AUTH token (FROCKET_REDIS_AUTH_SECRET_ARN; a JSON object with auth_token, as the redis module stores it)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:", var.redis_auth_secret_arn))
    error_message = "The redis_auth_secret_arn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:...)."
  }
}

variable "invoker_lambda_concurrency" {
  description = "Worker invocations the invoker keeps in flight at once (FROCKET_INVOKER_LAMBDA_CONCURRENCY)."
  type        = number
  default     = 64

  validation {
    condition     = var.invoker_lambda_concurrency >= 1 && var.invoker_lambda_concurrency <= 1000
    error_message = "The invoker_lambda_concurrency must be from 1 to 1000."
  }
}

variable "invoker_run_timeout" {
  description = "Seconds a whole query job may take (FROCKET_INVOKER_RUN_TIMEOUT); keep it below invoker_timeout."
  type        = number
  default     = 60

  validation {
    condition     = var.invoker_run_timeout >= 1 && var.invoker_run_timeout <= 890
    error_message = "The invoker_run_timeout must be from 1 to 890 seconds (the function timeout is at most 900)."
  }
}

variable "worker_disk_cache_size_mb" {
  description = "Size of the worker's parts disk cache under /tmp (FROCKET_WORKER_DISK_CACHE_SIZE_MB); keep it below worker_ephemeral_storage_mb minus the largest part."
  type        = number
  default     = 256

  validation {
    condition     = var.worker_disk_cache_size_mb >= 0 && var.worker_disk_cache_size_mb <= 10240
    error_message = "The worker_disk_cache_size_mb must be from 0 to 10240."
  }
}

variable "log_format" {
  description = "Log format of the functions (FROCKET_LOG_FORMAT)."
  type        = string
  default     = "json"

  validation {
    condition     = contains(["json", "text"], var.log_format)
    error_message = "The log_format must be json or text."
  }
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

variable "allowed_basepaths" {
  description = "The only places registration may read (FROCKET_ALLOWED_BASEPATHS): s3://bucket or s3://bucket/prefix, usually the dataset buckets."
  type        = list(string)

  validation {
    condition     = length(var.allowed_basepaths) >= 1 && alltrue([for p in var.allowed_basepaths : can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", p)) && !can(regex("(^|/)\\.\\.(/|$)", p))])
    error_message = "Give at least one s3://bucket[/prefix] (no '..')."
  }
}

variable "api_admin_actions" {
  description = "Let callers of the query-invoker API register and unregister datasets (FROCKET_APISERVER_ADMIN_ACTIONS). Off: registration goes through the register-dataset function."
  type        = bool
  default     = false
}

variable "api_error_details" {
  description = "Put internal error details (paths, hosts, parts) in the query-invoker API's 5xx answers (FROCKET_APISERVER_ERROR_DETAILS). Off: only the kind and the request id; details go to the log."
  type        = bool
  default     = false
}

variable "extra_environment" {
  description = "More environment variables for all three functions (e.g. FROCKET_INVOKER_RETRY_MAX_ATTEMPTS); they override the ones set here."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_environment) : can(regex("^[A-Za-z][A-Za-z0-9_]*$", k)) && !can(regex("^AWS_", k))])
    error_message = "Environment variable names must be letters, digits and underscores, and must not start with AWS_ (reserved by Lambda)."
  }
}

variable "kms_key_arn" {
  description = "KMS key ARN encrypting the functions' environment variables at rest. Null uses the AWS managed Lambda key."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "The kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' log groups (/aws/lambda/NAME), in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be one of the values CloudWatch Logs allows (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key ARN encrypting the log groups. Null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:", var.log_kms_key_arn))
    error_message = "The log_kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing mode: PassThrough (no traces of its own, no cost) or Active (needs the iam module's attach_xray_policy)."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "The tracing_mode must be PassThrough or Active."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
