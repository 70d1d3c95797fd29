output "vpc_id" {
  description = "ID of the VPC (created or given)."
  value       = local.vpc_id
}

output "private_subnet_ids" {
  description = "IDs of the private subnets the functions and Redis use."
  value       = local.private_subnet_ids
}

output "private_route_table_ids" {
  description = "IDs of the private route tables (the S3 gateway endpoint is attached to them)."
  value       = local.private_route_table_ids
}

output "functions_security_group_id" {
  description = "Security group of the Lambda functions."
  value       = aws_security_group.functions.id
}

output "redis_security_group_id" {
  description = "Security group of Redis (port 6379 from the functions' group only)."
  value       = aws_security_group.redis.id
}

output "s3_endpoint_id" {
  description = "ID of the S3 gateway endpoint, or null when create_s3_endpoint is false."
  value       = one(aws_vpc_endpoint.s3[*].id)
}

output "interface_endpoint_ids" {
  description = "IDs of the interface endpoints, by service short name."
  value       = { for service, endpoint in aws_vpc_endpoint.interface : service => endpoint.id }
}

output "flow_log_group_name" {
  description = "CloudWatch log group of the VPC flow logs, or null when none are created."
  value       = one(aws_cloudwatch_log_group.flow_logs[*].name)
}
