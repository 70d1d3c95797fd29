variable "bucket_name" {
  description = "Name of the dataset bucket (globally unique)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !can(regex("\\.\\.|^xn--|-s3alias$|^\\d+\\.\\d+\\.\\d+\\.\\d+$", var.bucket_name))
    error_message = "The bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy delete the bucket with its objects (all versions). Keep false unless the data is disposable."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "Customer managed KMS key ARN for SSE-KMS. Null uses the AWS managed aws/s3 key."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "The kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted object versions are removed."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "The noncurrent_version_expiration_days must be at least 1."
  }
}

variable "tags" {
  description = "Tags added to the bucket."
  type        = map(string)
  default     = {}
}
