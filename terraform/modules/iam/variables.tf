variable "worker_function_name" {
  description = "Name of the worker function (its ARN is computed from it)."
  type        = string
  default     = "frocket-worker"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,59}$", var.worker_function_name))
    error_message = "The worker_function_name must be 1-59 letters, digits, hyphens or underscores (the role name adds \"-role\")."
  }
}

variable "invoker_function_name" {
  description = "Name of the query-invoker function (its ARN is computed from it)."
  type        = string
  default     = "frocket-query-invoker"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,59}$", var.invoker_function_name))
    error_message = "The invoker_function_name must be 1-59 letters, digits, hyphens or underscores (the role name adds \"-role\")."
  }
}

variable "register_function_name" {
  description = "Name of the register-dataset function."
  type        = string
  default     = "frocket-register-dataset"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,59}$", var.register_function_name))
    error_message = "The register_function_name must be 1-59 letters, digits, hyphens or underscores (the role name adds \"-role\")."
  }
}

variable "dataset_bucket_names" {
  description = "S3 buckets holding datasets: the functions may list them and read their objects, nothing else."
  type        = list(string)

  validation {
    condition     = length(var.dataset_bucket_names) >= 1 && alltrue([for b in var.dataset_bucket_names : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", b))])
    error_message = "Give at least one bucket, by name (not ARN or s3:// URL)."
  }
}

variable "dataset_kms_key_arns" {
  description = "Customer managed KMS keys encrypting the dataset buckets (kms:Decrypt is granted on them). Empty for SSE-S3 or the AWS managed aws/s3 key."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for k in var.dataset_kms_key_arns : can(regex("^arn:aws[a-z-]*:kms:", k))])
    error_message = "Every entry must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "redis_auth_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the Redis AUTH token: the functions may read this secret and no other."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:", var.redis_auth_secret_arn))
    error_message = "The redis_auth_secret_arn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:...)."
  }
}

variable "redis_auth_secret_kms_key_arn" {
  description = "Customer managed KMS key encrypting that secret (kms:Decrypt is granted on it); null for the AWS managed key."
  type        = string
  default     = null

  validation {
    condition     = var.redis_auth_secret_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:", var.redis_auth_secret_kms_key_arn))
    error_message = "The redis_auth_secret_kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "attach_xray_policy" {
  description = "Attach AWSXRayDaemonWriteAccess (needed when the functions' tracing mode is Active)."
  type        = bool
  default     = false
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary set on every role, if your organisation requires one."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null ? true : can(regex("^arn:aws[a-z-]*:iam::", var.permissions_boundary_arn))
    error_message = "The permissions_boundary_arn must be an IAM policy ARN."
  }
}

variable "tags" {
  description = "Tags added to every role."
  type        = map(string)
  default     = {}
}
