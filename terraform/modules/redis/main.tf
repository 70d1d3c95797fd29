# ElastiCache Redis for Funnel Rocket: a primary and at least one replica in another AZ with
# automatic failover, TLS and AUTH, encryption at rest, and an eviction policy that only evicts
# keys with a TTL (request-scoped data), never the dataset metadata.

resource "random_password" "auth_token" {
  length  = 64
  special = false # ElastiCache allows only some special characters; alphanumerics are enough
}

resource "aws_elasticache_subnet_group" "this" {
  name        = var.name
  description = "Funnel Rocket Redis subnets"
  subnet_ids  = var.subnet_ids

  tags = var.tags
}

resource "aws_elasticache_parameter_group" "this" {
  name        = "${var.name}-${replace(var.parameter_group_family, ".", "-")}"
  family      = var.parameter_group_family
  description = "Funnel Rocket Redis: only keys with a TTL are evictable"

  parameter {
    name  = "maxmemory-policy"
    value = "volatile-lru"
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_elasticache_replication_group" "this" {
  #checkov:skip=CKV_AWS_191:At-rest encryption is always on; a customer managed key is optional (var.kms_key_arn) and null uses the AWS owned key.
  replication_group_id = var.name
  description          = "Funnel Rocket datastore"

  engine               = "redis"
  engine_version       = var.engine_version
  node_type            = var.node_type
  port                 = var.port
  parameter_group_name = aws_elasticache_parameter_group.this.name
  subnet_group_name    = aws_elasticache_subnet_group.this.name
  security_group_ids   = var.security_group_ids

  num_cache_clusters         = var.num_cache_clusters
  automatic_failover_enabled = true
  multi_az_enabled           = true

  transit_encryption_enabled = true
  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  auth_token                 = random_password.auth_token.result

  auto_minor_version_upgrade = true
  maintenance_window         = var.maintenance_window
  snapshot_window            = var.snapshot_window
  snapshot_retention_limit   = var.snapshot_retention_limit
  apply_immediately          = var.apply_immediately

  tags = var.tags
}

################################################################################
# The connection details in Secrets Manager (for people and tools other than the functions)
################################################################################

resource "aws_secretsmanager_secret" "auth" {
  #checkov:skip=CKV_AWS_149:Encrypted with the AWS managed key unless var.secret_kms_key_arn is set; a customer managed key is optional.
  #checkov:skip=CKV2_AWS_57:No automatic rotation: the token is also set on the replication group and in the functions' environment, so it is rotated with Terraform (terraform apply -replace=module.redis.random_password.auth_token).
  count = var.create_auth_secret ? 1 : 0

  name                    = "${var.name}/redis-auth"
  description             = "Funnel Rocket Redis endpoint, port and AUTH token"
  kms_key_id              = var.secret_kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_in_days

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "auth" {
  count = var.create_auth_secret ? 1 : 0

  secret_id = aws_secretsmanager_secret.auth[0].id
  secret_string = jsonencode({
    host       = aws_elasticache_replication_group.this.primary_endpoint_address
    port       = var.port
    tls        = true
    auth_token = random_password.auth_token.result
  })
}
