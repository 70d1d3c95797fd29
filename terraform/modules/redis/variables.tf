variable "name" {
  description = "Replication group id; also names the subnet group, parameter group and secret."
  type        = string
  default     = "frocket"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,34}$", var.name)) && !can(regex("--|-$", var.name))
    error_message = "The name must be 1-35 characters: lowercase letters, digits and single hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "subnet_ids" {
  description = "Private subnets for the cache nodes, in at least 2 availability zones."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "Give at least 2 subnets in different availability zones (the replica lives in another AZ)."
  }
}

variable "security_group_ids" {
  description = "Security groups of the cache nodes (the network module's Redis group)."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) >= 1
    error_message = "Give at least one security group."
  }
}

variable "node_type" {
  description = "Cache node type: a current generation type such as cache.t4g.small or cache.t3.small (never cache.t2.*)."
  type        = string
  default     = "cache.t4g.small"

  validation {
    condition     = can(regex("^cache\\.[a-z0-9]+\\.[a-z0-9]+$", var.node_type)) && !can(regex("^cache\\.t2\\.", var.node_type)) && !can(regex("^cache\\.(t1|m1|m2|m3|c1|r3)\\.", var.node_type))
    error_message = "The node_type must be a current generation cache node type (e.g. cache.t4g.small); cache.t2 and older generations have weak network performance."
  }
}

variable "num_cache_clusters" {
  description = "Number of cache nodes: one primary plus replicas. At least 2 for multi-AZ automatic failover."
  type        = number
  default     = 2

  validation {
    condition     = var.num_cache_clusters >= 2 && var.num_cache_clusters <= 6 && floor(var.num_cache_clusters) == var.num_cache_clusters
    error_message = "The num_cache_clusters must be a whole number from 2 to 6 (a primary and at least one replica)."
  }
}

variable "engine_version" {
  description = "Redis engine version."
  type        = string
  default     = "7.1"

  validation {
    condition     = can(regex("^(6|7)\\.[0-9]+", var.engine_version))
    error_message = "The engine_version must be Redis 6.x or 7.x."
  }
}

variable "parameter_group_family" {
  description = "Parameter group family matching engine_version (redis7 for 7.x, redis6.x for 6.x)."
  type        = string
  default     = "redis7"

  validation {
    condition     = contains(["redis6.x", "redis7"], var.parameter_group_family)
    error_message = "The parameter_group_family must be redis6.x or redis7."
  }
}

variable "port" {
  description = "Redis port."
  type        = number
  default     = 6379

  validation {
    condition     = var.port >= 1024 && var.port <= 65535
    error_message = "The port must be from 1024 to 65535."
  }
}

variable "kms_key_arn" {
  description = "KMS key ARN for encryption at rest. Null uses the AWS owned key (encryption at rest stays on)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "The kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "maintenance_window" {
  description = "Weekly maintenance window (UTC), ddd:hh24:mi-ddd:hh24:mi."
  type        = string
  default     = "sun:05:00-sun:06:00"

  validation {
    condition     = can(regex("^(mon|tue|wed|thu|fri|sat|sun):[0-2][0-9]:[0-5][0-9]-(mon|tue|wed|thu|fri|sat|sun):[0-2][0-9]:[0-5][0-9]$", var.maintenance_window))
    error_message = "The maintenance_window must look like sun:05:00-sun:06:00."
  }
}

variable "snapshot_window" {
  description = "Daily snapshot window (UTC), hh24:mi-hh24:mi; must not overlap the maintenance window."
  type        = string
  default     = "03:00-04:00"

  validation {
    condition     = can(regex("^[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9]$", var.snapshot_window))
    error_message = "The snapshot_window must look like 03:00-04:00."
  }
}

variable "snapshot_retention_limit" {
  description = "Days of automatic snapshots to keep (they hold the dataset catalog). 0 turns them off."
  type        = number
  default     = 1

  validation {
    condition     = var.snapshot_retention_limit >= 0 && var.snapshot_retention_limit <= 35
    error_message = "The snapshot_retention_limit must be from 0 to 35 days."
  }
}

variable "apply_immediately" {
  description = "Apply changes at once instead of in the next maintenance window."
  type        = bool
  default     = false
}

variable "create_auth_secret" {
  description = "Store the endpoint, port and AUTH token in a Secrets Manager secret (about $0.40/month)."
  type        = bool
  default     = true
}

variable "secret_kms_key_arn" {
  description = "KMS key ARN for the Secrets Manager secret. Null uses the AWS managed key."
  type        = string
  default     = null

  validation {
    condition     = var.secret_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:", var.secret_kms_key_arn))
    error_message = "The secret_kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "secret_recovery_window_in_days" {
  description = "Days Secrets Manager keeps the secret after destroy (0 deletes it at once, so the name can be reused)."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_window_in_days == 0 || (var.secret_recovery_window_in_days >= 7 && var.secret_recovery_window_in_days <= 30)
    error_message = "The secret_recovery_window_in_days must be 0 or from 7 to 30."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
