# The presign Lambda: a function URL in front of presign-lambda's `bootstrap`. Its role may
# assume the browser role and write its logs; it holds no S3 or Bedrock permission of its own,
# so the relay can only forward what a session's own signature authorises.

locals {
  presign_name = "${local.name}-presign"
}

data "aws_iam_policy_document" "presign_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "presign" {
  name               = local.presign_name
  description        = "The presign Lambda: assumes the browser role, writes its logs."
  assume_role_policy = data.aws_iam_policy_document.presign_trust.json
  tags               = local.tags
}

data "aws_iam_policy_document" "presign" {
  statement {
    sid       = "AssumeBrowserRole"
    actions   = ["sts:AssumeRole"]
    resources = [aws_iam_role.browser.arn]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.presign.arn}:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions
  }
}

resource "aws_iam_role_policy" "presign" {
  name   = "presign"
  role   = aws_iam_role.presign.id
  policy = data.aws_iam_policy_document.presign.json
}

resource "aws_cloudwatch_log_group" "presign" {
  name              = "/aws/lambda/${local.presign_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = local.tags
}

resource "aws_lambda_function" "presign" {
  # checkov:skip=CKV_AWS_117:The function only calls public AWS endpoints (STS, Bedrock); a VPC would need NAT or endpoints for no isolation gained.
  # checkov:skip=CKV_AWS_116:Invoked synchronously through its function URL only; a dead-letter queue applies to asynchronous invocations.
  # checkov:skip=CKV_AWS_272:Code signing needs a signing profile per organisation; the zip's hash is pinned by source_code_hash.
  # checkov:skip=CKV_AWS_173:The environment holds no secret: names, limits and only the SHA-256 of the write token.
  function_name                  = local.presign_name
  description                    = "s3vec: narrowed browser credentials and the Bedrock CORS relay"
  role                           = aws_iam_role.presign.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = ["x86_64"]
  filename                       = var.lambda_zip_path
  source_code_hash               = filebase64sha256(var.lambda_zip_path)
  memory_size                    = var.lambda_memory_size
  timeout                        = var.lambda_timeout
  reserved_concurrent_executions = var.lambda_reserved_concurrency

  environment {
    # Settings the function reads at cold start (presign-lambda/README.md); optional ones are
    # left out rather than set empty.
    variables = merge(
      {
        VECTOR_BUCKET_NAME       = local.browser_bucket_name
        VECTOR_PREFIXES          = join(",", var.browser_prefixes)
        BEDROCK_MODEL_ID         = var.bedrock_model_id
        BROWSER_ROLE_ARN         = aws_iam_role.browser.arn
        ALLOWED_ORIGINS          = join(",", local.allowed_origins)
        SESSION_DURATION_SECONDS = tostring(var.session_duration_seconds)
        RELAY_ENABLED            = tostring(var.enable_relay)
        CREDENTIALS_PER_MINUTE   = tostring(var.credentials_per_minute)
        RELAY_PER_MINUTE         = tostring(var.relay_per_minute)
      },
      local.write_enabled ? { WRITE_TOKEN_SHA256 = var.write_token_sha256 } : {},
      var.kms_key_arn == null ? {} : { KMS_KEY_ARN = var.kms_key_arn },
    )
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.presign.name
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy.presign]
}

# The browser calls it without AWS credentials (that is what it is for): the handler checks
# the origin, rate-limits, and authenticates writers itself.
resource "aws_lambda_function_url" "presign" {
  # checkov:skip=CKV_AWS_258:Public by design: browsers have no AWS credentials before they call it; the handler enforces origin, rate limit and the write token.
  function_name      = aws_lambda_function.presign.function_name
  authorization_type = "NONE"
  # No `cors` block: the handler answers preflights itself, so a refused origin gets no grant.
}

# Since October 2025 a public function URL also needs lambda:InvokeFunction, limited here to
# calls that come through the URL. (Creating a NONE-auth URL adds lambda:InvokeFunctionUrl.)
resource "aws_lambda_permission" "presign_url_invoke" {
  # checkov:skip=CKV_AWS_301:Public on purpose, and only through the function URL (invoked_via_function_url); see CKV_AWS_258 above.
  statement_id             = "AllowPublicInvokeViaFunctionUrl"
  action                   = "lambda:InvokeFunction"
  function_name            = aws_lambda_function.presign.function_name
  principal                = "*"
  invoked_via_function_url = true
}
