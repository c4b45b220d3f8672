terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.29 added `invoked_via_function_url` to aws_lambda_permission, which public function URLs
      # need since October 2025 (lambda:InvokeFunction as well as lambda:InvokeFunctionUrl).
      version = ">= 6.29"
    }
  }
}
