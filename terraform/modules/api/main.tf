# API Gateway HTTP API in front of the query-invoker function: every request goes to the
# function (it routes them itself), authorization is on (IAM by default, or JWT), access logs go
# to CloudWatch Logs and the default stage is throttled.

locals {
  # Terraform 1.0 validation blocks see only their own variable: fail the plan here when JWT
  # authorization lacks its issuer or audience.
  check_jwt = var.authorization_type != "JWT" || (var.jwt_issuer != null && length(var.jwt_audience) > 0) ? true : tobool("JWT authorization needs jwt_issuer and at least one jwt_audience.")
}

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  description   = "Funnel Rocket HTTP API"
  protocol_type = "HTTP"

  tags = var.tags
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  count = var.authorization_type == "JWT" ? 1 : 0

  api_id           = aws_apigatewayv2_api.this.id
  name             = "${var.name}-jwt"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }
}

resource "aws_apigatewayv2_integration" "invoker" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = var.invoker_invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = var.integration_timeout_milliseconds
}

# One catch-all route: the function answers every path of the HTTP API (and 404 for the rest).
resource "aws_apigatewayv2_route" "default" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "$default"
  target             = "integrations/${aws_apigatewayv2_integration.invoker.id}"
  authorization_type = var.authorization_type
  authorizer_id      = one(aws_apigatewayv2_authorizer.jwt[*].id)
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_338:Access logs are operational, not audit records: 30 days by default (var.log_retention_days) keeps storage cheap.
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data at rest by default; a customer managed key is optional (var.log_kms_key_arn).
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.throttling_burst_limit
    throttling_rate_limit  = var.throttling_rate_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      sourceIp           = "$context.identity.sourceIp"
      caller             = "$context.identity.caller"
      userArn            = "$context.identity.userArn"
      requestTime        = "$context.requestTime"
      httpMethod         = "$context.httpMethod"
      path               = "$context.path"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
      authorizerError    = "$context.authorizer.error"
    })
  }

  tags = var.tags
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowApiGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = var.invoker_function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}

# For IAM authorization: attach this policy to the users or roles that may call the API.
data "aws_iam_policy_document" "caller" {
  statement {
    sid       = "CallFunnelRocketApi"
    actions   = ["execute-api:Invoke"]
    resources = ["${aws_apigatewayv2_api.this.execution_arn}/*"]
  }
}

resource "aws_iam_policy" "caller" {
  count = var.create_caller_policy ? 1 : 0

  name        = "${var.name}-api-caller"
  description = "Call the Funnel Rocket HTTP API (IAM authorization)"
  policy      = data.aws_iam_policy_document.caller.json

  tags = var.tags
}
