output "replication_group_id" {
  description = "ID of the ElastiCache replication group."
  value       = aws_elasticache_replication_group.this.id
}

output "primary_endpoint_address" {
  description = "Primary endpoint (FROCKET_REDIS_HOST); follows the primary on failover."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "reader_endpoint_address" {
  description = "Reader endpoint (replicas)."
  value       = aws_elasticache_replication_group.this.reader_endpoint_address
}

output "port" {
  description = "Redis port (FROCKET_REDIS_PORT)."
  value       = var.port
}

output "auth_token" {
  description = "Redis AUTH token (FROCKET_REDIS_AUTH_TOKEN)."
  value       = random_password.auth_token.result
  sensitive   = true
}

output "auth_secret_arn" {
  description = "ARN of the Secrets Manager secret with host, port and AUTH token, or null when create_auth_secret is false."
  value       = one(aws_secretsmanager_secret.auth[*].arn)
}
