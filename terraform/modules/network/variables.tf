variable "name" {
  description = "Name prefix of every network resource (VPC, subnets, security groups, endpoints)."
  type        = string
  default     = "frocket"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "The name must be 2-31 characters: lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "vpc_id" {
  description = "An existing VPC to use. When null, a VPC with private subnets is created."
  type        = string
  default     = null

  validation {
    condition     = var.vpc_id == null ? true : can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "The vpc_id must look like vpc-0123456789abcdef0 (or be null to create a VPC)."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets of the existing VPC, in at least 2 availability zones. Required when vpc_id is set, ignored otherwise."
  type        = list(string)
  default     = null

  validation {
    condition     = var.private_subnet_ids == null ? true : length(var.private_subnet_ids) >= 2 && alltrue([for s in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "Give at least 2 subnet ids (subnet-...), in different availability zones (Redis is multi-AZ)."
  }
}

variable "private_route_table_ids" {
  description = "Route tables of the existing private subnets, for the S3 gateway endpoint. Required when vpc_id is set and create_s3_endpoint is true."
  type        = list(string)
  default     = null

  validation {
    condition     = var.private_route_table_ids == null ? true : alltrue([for r in var.private_route_table_ids : can(regex("^rtb-[0-9a-f]+$", r))])
    error_message = "Route table ids look like rtb-0123456789abcdef0."
  }
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC created when vpc_id is null."
  type        = string
  default     = "10.42.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && try(tonumber(split("/", var.vpc_cidr)[1]) <= 24, false)
    error_message = "The vpc_cidr must be an IPv4 CIDR block of /24 or larger, e.g. 10.42.0.0/16."
  }
}

variable "az_count" {
  description = "Number of availability zones (one private subnet each) of the VPC created when vpc_id is null and availability_zones is empty."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 6 && floor(var.az_count) == var.az_count
    error_message = "The az_count must be a whole number from 2 to 6 (Redis needs a replica in another AZ)."
  }
}

variable "availability_zones" {
  description = "Availability zone names for the private subnets of the VPC created when vpc_id is null. Empty takes the first az_count zones of the region."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.availability_zones) == 0 || length(var.availability_zones) >= 2
    error_message = "Give no zones, or at least 2 (Redis needs a replica in another AZ)."
  }
}

variable "subnet_newbits" {
  description = "Bits added to the VPC prefix for each private subnet (4 turns a /16 into /20 subnets)."
  type        = number
  default     = 4

  validation {
    condition     = var.subnet_newbits >= 1 && var.subnet_newbits <= 8
    error_message = "The subnet_newbits must be from 1 to 8."
  }
}

variable "create_s3_endpoint" {
  description = "Create the S3 gateway endpoint on the private route tables. Set false only if the VPC already has one on those route tables."
  type        = bool
  default     = true
}

variable "interface_endpoint_services" {
  description = "AWS services reached through interface VPC endpoints with private DNS (about $7.3/month per AZ each). The query-invoker needs \"lambda\" unless the subnets have a NAT gateway."
  type        = list(string)
  default     = ["lambda"]

  validation {
    condition     = alltrue([for s in var.interface_endpoint_services : can(regex("^[a-z0-9.-]+$", s)) && s != "s3"])
    error_message = "Give service short names such as \"lambda\" or \"elasticache\" (S3 uses the gateway endpoint)."
  }
}

variable "functions_https_egress_cidr_blocks" {
  description = "Extra IPv4 CIDR blocks the functions may reach on port 443, e.g. [\"0.0.0.0/0\"] when an existing VPC reaches AWS APIs through a NAT gateway instead of interface endpoints."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.functions_https_egress_cidr_blocks : can(cidrnetmask(c))])
    error_message = "Every entry must be an IPv4 CIDR block."
  }
}

variable "redis_port" {
  description = "Redis port the security groups open between the functions and Redis."
  type        = number
  default     = 6379

  validation {
    condition     = var.redis_port >= 1024 && var.redis_port <= 65535
    error_message = "The redis_port must be from 1024 to 65535."
  }
}

variable "enable_flow_logs" {
  description = "Send VPC flow logs to CloudWatch Logs (only for the VPC created here)."
  type        = bool
  default     = true
}

variable "flow_logs_traffic_type" {
  description = "Traffic the flow logs record: REJECT (cheapest, shows blocked connections), ACCEPT or ALL."
  type        = string
  default     = "REJECT"

  validation {
    condition     = contains(["ACCEPT", "REJECT", "ALL"], var.flow_logs_traffic_type)
    error_message = "The flow_logs_traffic_type must be ACCEPT, REJECT or ALL."
  }
}

variable "log_retention_days" {
  description = "Retention of the flow logs log group, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be one of the values CloudWatch Logs allows (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key ARN to encrypt the flow logs log group with. Null uses CloudWatch Logs' own encryption."
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
