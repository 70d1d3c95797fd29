variable "name" {
  description = "Name of the HTTP API; also names its access log group and caller policy."
  type        = string
  default     = "frocket"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", var.name))
    error_message = "The name must be 1-64 letters, digits, hyphens or underscores."
  }
}

variable "invoker_function_name" {
  description = "Name of the query-invoker function (for the invoke permission)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.invoker_function_name))
    error_message = "The invoker_function_name must be 1-64 letters, digits, hyphens or underscores."
  }
}

variable "invoker_invoke_arn" {
  description = "Invoke ARN of the query-invoker function (functions module output)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:apigateway:", var.invoker_invoke_arn))
    error_message = "The invoker_invoke_arn must be a Lambda invoke ARN (arn:aws:apigateway:REGION:lambda:path/...)."
  }
}

variable "authorization_type" {
  description = "Authorization of every route: AWS_IAM (SigV4-signed requests, the default) or JWT (jwt_issuer and jwt_audience). The API is never open."
  type        = string
  default     = "AWS_IAM"

  validation {
    condition     = contains(["AWS_IAM", "JWT"], var.authorization_type) && var.authorization_type != "NONE"
    error_message = "The authorization_type must be AWS_IAM or JWT; NONE would expose the API (and register/unregister) to anyone."
  }
}

variable "jwt_issuer" {
  description = "JWT issuer URL (e.g. a Cognito user pool https://cognito-idp.REGION.amazonaws.com/POOL_ID). Required when authorization_type is JWT."
  type        = string
  default     = null

  validation {
    condition     = var.jwt_issuer == null ? true : can(regex("^https://", var.jwt_issuer))
    error_message = "The jwt_issuer must be an https:// URL."
  }
}

variable "jwt_audience" {
  description = "Accepted JWT audiences (e.g. Cognito app client ids). Required when authorization_type is JWT."
  type        = list(string)
  default     = []
}

variable "integration_timeout_milliseconds" {
  description = "How long API Gateway waits for the function (HTTP APIs allow at most 30000 ms); longer queries use POST /queries."
  type        = number
  default     = 30000

  validation {
    condition     = var.integration_timeout_milliseconds >= 50 && var.integration_timeout_milliseconds <= 30000
    error_message = "The integration_timeout_milliseconds must be from 50 to 30000."
  }
}

variable "throttling_burst_limit" {
  description = "Default stage burst limit (requests)."
  type        = number
  default     = 50

  validation {
    condition     = var.throttling_burst_limit >= 1 && var.throttling_burst_limit <= 5000
    error_message = "The throttling_burst_limit must be from 1 to 5000."
  }
}

variable "throttling_rate_limit" {
  description = "Default stage steady-state rate limit (requests per second)."
  type        = number
  default     = 20

  validation {
    condition     = var.throttling_rate_limit >= 1 && var.throttling_rate_limit <= 10000
    error_message = "The throttling_rate_limit must be from 1 to 10000."
  }
}

variable "create_caller_policy" {
  description = "Create an IAM policy allowing execute-api:Invoke on this API, to attach to callers (AWS_IAM authorization)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the access log group, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be one of the values CloudWatch Logs allows (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key ARN encrypting the access log group. Null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:", var.log_kms_key_arn))
    error_message = "The log_kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
