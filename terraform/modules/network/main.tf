# Network for the Funnel Rocket functions: a VPC with private subnets (or an existing one),
# security groups for the functions, Redis and the interface endpoints, an S3 gateway endpoint
# on the private route tables and interface endpoints (the Lambda API by default).
# No internet gateway and no NAT gateway: everything the functions talk to is reached through
# VPC endpoints or lives in the VPC (Redis).

data "aws_region" "current" {}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first az_count zone names are used (slice in locals), so a newly added zone never adds subnets; var.availability_zones pins the zones explicitly.
  state = "available"

  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

# The S3 prefix list, for the functions' HTTPS egress rule (whoever created the gateway endpoint).
data "aws_prefix_list" "s3" {
  name = "com.amazonaws.${data.aws_region.current.name}.s3"
}

locals {
  create_vpc = var.vpc_id == null

  vpc_id                  = local.create_vpc ? aws_vpc.this[0].id : var.vpc_id
  private_subnet_ids      = local.create_vpc ? aws_subnet.private[*].id : var.private_subnet_ids
  private_route_table_ids = local.create_vpc ? aws_route_table.private[*].id : var.private_route_table_ids

  azs = length(var.availability_zones) > 0 ? var.availability_zones : slice(data.aws_availability_zones.available.names, 0, var.az_count)

  create_flow_logs = local.create_vpc && var.enable_flow_logs

  # Terraform 1.0 has no preconditions and a validation block sees only its own variable:
  # these fail the plan with a readable message when an existing VPC comes without its subnets
  # or route tables.
  check_subnets      = local.create_vpc || var.private_subnet_ids != null ? true : tobool("The private_subnet_ids variable is required when vpc_id is set.")
  check_route_tables = local.create_vpc || !var.create_s3_endpoint || var.private_route_table_ids != null ? true : tobool("The private_route_table_ids variable is required when vpc_id is set and create_s3_endpoint is true.")
}

################################################################################
# VPC (only when no vpc_id is given)
################################################################################

resource "aws_vpc" "this" {
  count = local.create_vpc ? 1 : 0

  cidr_block           = var.vpc_cidr
  enable_dns_support   = true # required by the interface endpoints' private DNS
  enable_dns_hostnames = true

  tags = merge(var.tags, { Name = var.name })
}

# Take over the default security group and leave it without rules: nothing should use it.
resource "aws_default_security_group" "this" {
  count = local.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge(var.tags, { Name = "${var.name}-default-unused" })
}

resource "aws_subnet" "private" {
  count = local.create_vpc ? length(local.azs) : 0

  vpc_id                  = aws_vpc.this[0].id
  availability_zone       = local.azs[count.index]
  cidr_block              = cidrsubnet(var.vpc_cidr, var.subnet_newbits, count.index)
  map_public_ip_on_launch = false

  tags = merge(var.tags, { Name = "${var.name}-private-${local.azs[count.index]}" })
}

# One route table per private subnet: only the local route and the S3 gateway endpoint.
resource "aws_route_table" "private" {
  count = local.create_vpc ? length(local.azs) : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge(var.tags, { Name = "${var.name}-private-${local.azs[count.index]}" })
}

resource "aws_route_table_association" "private" {
  count = local.create_vpc ? length(local.azs) : 0

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

################################################################################
# VPC flow logs (only for a VPC created here)
################################################################################

resource "aws_cloudwatch_log_group" "flow_logs" {
  #checkov:skip=CKV_AWS_338:Flow logs of rejected traffic are for troubleshooting, not audit: 30 days by default (var.log_retention_days) keeps storage cheap.
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data at rest by default; a customer managed key is optional (var.log_kms_key_arn).
  count = local.create_flow_logs ? 1 : 0

  name              = "/aws/vpc/${var.name}/flow-logs"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "flow_logs" {
  count = local.create_flow_logs ? 1 : 0

  statement {
    sid       = "WriteFlowLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.flow_logs[0].arn}:*"]
  }
}

resource "aws_iam_role" "flow_logs" {
  count = local.create_flow_logs ? 1 : 0

  name               = "${var.name}-flow-logs"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy" "flow_logs" {
  count = local.create_flow_logs ? 1 : 0

  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs[0].id
  policy = data.aws_iam_policy_document.flow_logs[0].json
}

resource "aws_flow_log" "this" {
  count = local.create_flow_logs ? 1 : 0

  vpc_id          = aws_vpc.this[0].id
  traffic_type    = var.flow_logs_traffic_type
  iam_role_arn    = aws_iam_role.flow_logs[0].arn
  log_destination = aws_cloudwatch_log_group.flow_logs[0].arn

  tags = var.tags
}

################################################################################
# Security groups
################################################################################

resource "aws_security_group" "functions" {
  #checkov:skip=CKV2_AWS_5:Attached to the Lambda functions by the functions module (root main.tf passes this group's id); the graph check does not follow module outputs.
  name        = "${var.name}-functions"
  description = "Funnel Rocket Lambda functions: egress to S3, Redis and the VPC endpoints only"
  vpc_id      = local.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-functions" })
}

resource "aws_security_group" "redis" {
  #checkov:skip=CKV2_AWS_5:Attached to the ElastiCache replication group by the redis module (root main.tf passes this group's id); the graph check does not follow module outputs.
  name        = "${var.name}-redis"
  description = "Funnel Rocket Redis: port 6379 from the functions only"
  vpc_id      = local.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-redis" })
}

resource "aws_security_group" "endpoints" {
  count = length(var.interface_endpoint_services) > 0 ? 1 : 0

  name        = "${var.name}-endpoints"
  description = "Funnel Rocket interface VPC endpoints: HTTPS from the functions only"
  vpc_id      = local.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-endpoints" })
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_functions" {
  security_group_id            = aws_security_group.redis.id
  description                  = "Redis from the Funnel Rocket functions"
  ip_protocol                  = "tcp"
  from_port                    = var.redis_port
  to_port                      = var.redis_port
  referenced_security_group_id = aws_security_group.functions.id
}

resource "aws_vpc_security_group_egress_rule" "functions_to_redis" {
  security_group_id            = aws_security_group.functions.id
  description                  = "Redis"
  ip_protocol                  = "tcp"
  from_port                    = var.redis_port
  to_port                      = var.redis_port
  referenced_security_group_id = aws_security_group.redis.id
}

resource "aws_vpc_security_group_egress_rule" "functions_to_s3" {
  security_group_id = aws_security_group.functions.id
  description       = "S3 through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = data.aws_prefix_list.s3.id
}

resource "aws_vpc_security_group_egress_rule" "functions_to_endpoints" {
  count = length(var.interface_endpoint_services) > 0 ? 1 : 0

  security_group_id            = aws_security_group.functions.id
  description                  = "AWS APIs through the interface endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.endpoints[0].id
}

# Only for VPCs that reach AWS APIs another way (e.g. a NAT gateway you manage).
resource "aws_vpc_security_group_egress_rule" "functions_https" {
  for_each = toset(var.functions_https_egress_cidr_blocks)

  security_group_id = aws_security_group.functions.id
  description       = "HTTPS to ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_functions" {
  count = length(var.interface_endpoint_services) > 0 ? 1 : 0

  security_group_id            = aws_security_group.endpoints[0].id
  description                  = "HTTPS from the Funnel Rocket functions"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.functions.id
}

################################################################################
# VPC endpoints
################################################################################

# Lambdas in a VPC reach S3 through this gateway endpoint (free of charge).
resource "aws_vpc_endpoint" "s3" {
  count = var.create_s3_endpoint ? 1 : 0

  vpc_id            = local.vpc_id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = local.private_route_table_ids

  tags = merge(var.tags, { Name = "${var.name}-s3" })
}

# The query-invoker calls the Lambda API (Invoke) from inside the VPC: an interface endpoint
# with private DNS makes that work without a NAT gateway.
resource "aws_vpc_endpoint" "interface" {
  for_each = toset(var.interface_endpoint_services)

  vpc_id              = local.vpc_id
  service_name        = "com.amazonaws.${data.aws_region.current.name}.${each.value}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = local.private_subnet_ids
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true

  tags = merge(var.tags, { Name = "${var.name}-${each.value}" })
}
