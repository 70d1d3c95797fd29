variable "region" {
  description = "AWS region of the VPC and the dataset buckets."
  type        = string
  default     = "us-east-1"
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "frocket"
}

variable "vpc_id" {
  description = "The existing VPC."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "The vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets of the VPC, in at least 2 availability zones."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "Give at least 2 private subnets, in different availability zones."
  }
}

variable "private_route_table_ids" {
  description = "Route tables of the private subnets (the S3 gateway endpoint is attached to them)."
  type        = list(string)

  validation {
    condition     = length(var.private_route_table_ids) >= 1
    error_message = "Give at least one route table."
  }
}

variable "create_s3_endpoint" {
  description = "Create the S3 gateway endpoint (false if the VPC already has one on these route tables)."
  type        = bool
  default     = true
}

variable "interface_endpoint_services" {
  description = "Interface endpoints to create; [] when the subnets reach AWS APIs through a NAT gateway."
  type        = list(string)
  default     = ["lambda", "secretsmanager"]
}

variable "functions_https_egress_cidr_blocks" {
  description = "Extra CIDR blocks the functions may reach on 443 (e.g. [\"0.0.0.0/0\"] behind a NAT gateway)."
  type        = list(string)
  default     = []
}

variable "dataset_bucket_names" {
  description = "Existing buckets holding the datasets (names, not ARNs)."
  type        = list(string)

  validation {
    condition     = length(var.dataset_bucket_names) >= 1
    error_message = "Give at least one dataset bucket."
  }
}

variable "lambda_build_dir" {
  description = "Where make build leaves NAME/bootstrap.zip."
  type        = string
  default     = "/var/tmp/frocket-target/lambda"
}
