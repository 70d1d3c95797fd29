"""Tests of tf_schema_check: small Terraform trees it must reject or accept, the real tree,
the extraction rules on a hand-made jsii assembly, and the command line.

Run with the schema-check virtualenv's Python (make check-terraform does):
    python -m unittest discover -s terraform/schema-check
"""

import importlib.metadata
import io
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import tf_schema_check as tsc  # noqa: E402

REAL_TREE = os.path.dirname(HERE)  # terraform/

LAMBDA_OK = """
resource "aws_lambda_function" "worker" {
  function_name = "worker"
  role          = "arn:aws:iam::123456789012:role/worker"
  filename      = "worker.zip"
  runtime       = "provided.al2023"
  handler       = "bootstrap"
  memory_size   = 1024

  vpc_config {
    subnet_ids         = ["subnet-1"]
    security_group_ids = ["sg-1"]
  }
}
"""

MODULE_VARIABLES = """
variable "name" {
  type = string
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "kms_key_arn" {
  type    = string
  default = null
}
"""


class TreeCase(unittest.TestCase):
    schemas = None

    @classmethod
    def setUpClass(cls):
        if TreeCase.schemas is None:
            TreeCase.schemas, _ = tsc.load_schemas()

    def check(self, files: dict):
        """Writes {relative path: text} into a temporary tree and runs the check on it."""
        with tempfile.TemporaryDirectory() as root:
            for rel, text in files.items():
                path = os.path.join(root, rel)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(textwrap.dedent(text).lstrip())
            out = io.StringIO()
            code = tsc.run([root], schemas=self.schemas, out=out, err=out)
            return code, out.getvalue()

    def assertFails(self, files, *fragments):
        code, output = self.check(files)
        self.assertEqual(code, 1, output)
        problem_lines = [line for line in output.splitlines() if not line.startswith(("tf_schema_check:", "note:"))]
        self.assertTrue(
            any(all(f in line for f in fragments) for line in problem_lines),
            f"no problem line with {fragments!r} in:\n{output}",
        )
        return output

    def assertPasses(self, files):
        code, output = self.check(files)
        self.assertEqual(code, 0, output)
        self.assertIn("tf_schema_check: OK", output)
        return output


class ResourceChecks(TreeCase):
    def test_valid_resource_passes(self):
        self.assertPasses({"main.tf": LAMBDA_OK})

    def test_misspelt_argument(self):
        text = LAMBDA_OK.replace("memory_size   = 1024", "memory_sise   = 1024")
        output = self.assertFails(
            {"main.tf": text}, "main.tf:7:", "resource.aws_lambda_function.worker:", 'unsupported argument "memory_sise"', '"memory_size"'
        )
        self.assertEqual(len(output.strip().splitlines()), 2, output)  # the problem and the summary

    def test_unknown_nested_block(self):
        text = LAMBDA_OK.replace("vpc_config {", "vpc_konfig {")
        self.assertFails({"main.tf": text}, "resource.aws_lambda_function.worker:", 'unsupported block type "vpc_konfig"')

    def test_unknown_block_inside_nested_block(self):
        text = LAMBDA_OK.replace('security_group_ids = ["sg-1"]', 'security_group_ids = ["sg-1"]\n    extra {}')
        self.assertFails({"main.tf": text}, "resource.aws_lambda_function.worker.vpc_config:", 'unsupported block type "extra"')

    def test_misspelt_argument_inside_nested_block(self):
        text = LAMBDA_OK.replace("security_group_ids =", "security_group_idz =")
        self.assertFails({"main.tf": text}, "main.tf:11:", "resource.aws_lambda_function.worker.vpc_config:", 'unsupported argument "security_group_idz"')

    def test_missing_required_argument(self):
        text = LAMBDA_OK.replace('  role          = "arn:aws:iam::123456789012:role/worker"\n', "")
        self.assertFails({"main.tf": text}, "main.tf:1:", "resource.aws_lambda_function.worker:", 'missing required argument "role"')

    def test_missing_required_argument_of_nested_block(self):
        text = LAMBDA_OK.replace('    subnet_ids         = ["subnet-1"]\n', "")
        self.assertFails({"main.tf": text}, "resource.aws_lambda_function.worker.vpc_config:", 'missing required argument "subnet_ids"')

    def test_missing_required_block(self):
        self.assertFails(
            {"main.tf": 'resource "aws_s3_bucket_server_side_encryption_configuration" "this" {\n  bucket = "b"\n}\n'},
            "resource.aws_s3_bucket_server_side_encryption_configuration.this:",
            'missing required block "rule"',
        )

    def test_unknown_resource_type(self):
        self.assertFails(
            {"main.tf": 'resource "aws_lambda_functon" "x" {\n  function_name = "x"\n}\n'},
            "resource.aws_lambda_functon.x:",
            'unknown resource type "aws_lambda_functon"',
            '"aws_lambda_function"',
        )

    def test_computed_only_attribute_is_not_an_argument(self):
        text = LAMBDA_OK.replace("memory_size   = 1024", "memory_size   = 1024\n  arn = \"x\"")
        self.assertFails({"main.tf": text}, "resource.aws_lambda_function.worker:", 'unsupported argument "arn"')

    def test_block_written_as_argument(self):
        text = LAMBDA_OK.replace("memory_size   = 1024", "memory_size   = 1024\n  environment = { variables = {} }")
        self.assertFails({"main.tf": text}, '"environment" is a block, not an argument')

    def test_argument_written_as_block(self):
        text = LAMBDA_OK.replace("memory_size   = 1024", "memory_size   = 1024\n  layers {}")
        self.assertFails({"main.tf": text}, '"layers" is an argument, not a block')

    def test_single_block_repeated(self):
        text = LAMBDA_OK.replace("  vpc_config {", "  tracing_config {\n    mode = \"Active\"\n  }\n  tracing_config {\n    mode = \"Active\"\n  }\n  vpc_config {")
        self.assertFails({"main.tf": text}, 'at most one "tracing_config" block is allowed, found 2')

    def test_meta_arguments_dynamic_blocks_and_attributes_as_blocks_pass(self):
        self.assertPasses(
            {
                "main.tf": """
                #checkov:skip=CKV_AWS_1:irrelevant to this check
                resource "aws_lambda_function" "worker" {
                  #checkov:skip=CKV_AWS_116:comments are ignored
                  count         = 1
                  provider      = aws.other
                  depends_on    = [aws_security_group.this]
                  function_name = "worker"
                  role          = "arn:aws:iam::123456789012:role/worker"

                  dynamic "vpc_config" {
                    for_each = var.subnets == null ? [] : [var.subnets]
                    iterator = s
                    content {
                      subnet_ids         = s.value
                      security_group_ids = []
                    }
                  }

                  lifecycle {
                    create_before_destroy = true
                    ignore_changes        = [tags]
                  }
                }

                resource "aws_security_group" "this" {
                  for_each = toset(["a"])
                  name     = each.key
                  ingress {
                    from_port   = 443
                    to_port     = 443
                    protocol    = "tcp"
                    cidr_blocks = ["10.0.0.0/8"]
                  }
                }

                resource "random_password" "token" {
                  length  = 32
                  special = false
                }

                data "aws_iam_policy_document" "doc" {
                  statement {
                    actions   = ["s3:GetObject"]
                    resources = ["*"]
                    principals {
                      type        = "Service"
                      identifiers = ["lambda.amazonaws.com"]
                    }
                  }
                  dynamic "statement" {
                    for_each = var.extra
                    content {
                      actions   = statement.value
                      resources = ["*"]
                    }
                  }
                }

                data "aws_caller_identity" "current" {}

                provider "aws" {
                  alias  = "other"
                  region = "eu-west-1"
                  default_tags {
                    tags = { app = "frocket" }
                  }
                }
                """
            }
        )

    def test_dynamic_block_of_unknown_type(self):
        text = LAMBDA_OK.replace("  vpc_config {", '  dynamic "vpc_konfig" {\n    for_each = []\n    content {}\n  }\n  vpc_config {')
        self.assertFails({"main.tf": text}, 'unsupported block type "vpc_konfig" in dynamic block')

    def test_dynamic_block_content_is_checked(self):
        text = LAMBDA_OK.replace(
            "  vpc_config {", '  dynamic "environment" {\n    for_each = [1]\n    content {\n      variablez = {}\n    }\n  }\n  vpc_config {'
        )
        self.assertFails({"main.tf": text}, "main.tf:12:", "resource.aws_lambda_function.worker.environment:", 'unsupported argument "variablez"')

    def test_unknown_lifecycle_argument(self):
        text = LAMBDA_OK.replace("memory_size   = 1024", "memory_size   = 1024\n  lifecycle {\n    prevent_destroi = true\n  }")
        self.assertFails({"main.tf": text}, "resource.aws_lambda_function.worker.lifecycle:", 'unsupported argument "prevent_destroi"')


class DataSourceChecks(TreeCase):
    def test_misspelt_argument_in_data_source_block(self):
        self.assertFails(
            {"main.tf": 'data "aws_iam_policy_document" "doc" {\n  statement {\n    actionz = ["s3:GetObject"]\n  }\n}\n'},
            "main.tf:3:",
            "data.aws_iam_policy_document.doc.statement:",
            'unsupported argument "actionz"',
        )

    def test_unknown_data_source(self):
        self.assertFails({"main.tf": 'data "aws_iam_policy_documents" "doc" {}\n'}, 'unknown data source "aws_iam_policy_documents"')

    def test_missing_required_argument_in_data_source_nested_block(self):
        self.assertFails(
            {"main.tf": 'data "aws_iam_policy_document" "doc" {\n  statement {\n    principals {\n      type = "Service"\n    }\n  }\n}\n'},
            "data.aws_iam_policy_document.doc.statement.principals:",
            'missing required argument "identifiers"',
        )


class ModuleCallChecks(TreeCase):
    def test_valid_module_call_passes(self):
        self.assertPasses(
            {
                "main.tf": 'module "bucket" {\n  source = "./modules/bucket"\n  count  = 1\n  name   = "b"\n}\n',
                "modules/bucket/variables.tf": MODULE_VARIABLES,
            }
        )

    def test_unknown_module_input(self):
        self.assertFails(
            {
                "main.tf": 'module "bucket" {\n  source = "./modules/bucket"\n  name   = "b"\n  nmae   = "c"\n}\n',
                "modules/bucket/variables.tf": MODULE_VARIABLES,
            },
            "main.tf:1:",
            "module.bucket:",
            'unsupported argument "nmae"',
        )

    def test_missing_required_module_input(self):
        self.assertFails(
            {
                "main.tf": 'module "bucket" {\n  source = "./modules/bucket"\n  tags   = {}\n}\n',
                "modules/bucket/variables.tf": MODULE_VARIABLES,
            },
            "module.bucket:",
            'missing required argument "name"',
        )

    def test_relative_source_upwards(self):
        self.assertFails(
            {
                "variables.tf": MODULE_VARIABLES,
                "examples/one/main.tf": 'module "root" {\n  source = "../.."\n  kms_key_arn = null\n}\n',
            },
            os.path.join("examples", "one", "main.tf") + ":1:",
            "module.root:",
            'missing required argument "name"',
        )

    def test_missing_module_source_directory(self):
        self.assertFails({"main.tf": 'module "x" {\n  source = "./nowhere"\n}\n'}, "module.x:", "is not a directory")

    def test_problems_inside_called_module_are_reported(self):
        self.assertFails(
            {
                "main.tf": 'module "fn" {\n  source = "./modules/fn"\n}\n',
                "modules/fn/main.tf": LAMBDA_OK.replace("handler", "handlr"),
            },
            os.path.join("modules", "fn", "main.tf"),
            'unsupported argument "handlr"',
        )


class RealTree(TreeCase):
    def test_real_terraform_tree_passes(self):
        out = io.StringIO()
        code = tsc.run([REAL_TREE], schemas=self.schemas, out=out, err=out)
        self.assertEqual(code, 0, out.getvalue())
        self.assertIn("tf_schema_check: OK", out.getvalue())


class Extraction(unittest.TestCase):
    """The mapping rules on a tiny hand-made assembly shaped like the cdktn ones."""

    @staticmethod
    def prop(name, anchor, type_ref, optional=True, block=False):
        link = "{@link https://registry.terraform.io/providers/hashicorp/aws/6.0.0/docs/resources/thing#" + anchor + " AwsThing#" + anchor + "}"
        docs = {"summary": f"{anchor} block.", "remarks": "Docs at Terraform Registry: " + link} if block else {"summary": "Docs at Terraform Registry: " + link + "."}
        result = {"name": name, "docs": docs, "type": type_ref}
        if optional:
            result["optional"] = True
        return result

    def assembly(self):
        struct = {"kind": "interface", "datatype": True}
        list_of = lambda fqn: {"union": {"types": [{"fqn": "cdktn.IResolvable"}, {"collection": {"kind": "array", "elementtype": {"fqn": fqn}}}]}}  # noqa: E731
        return {
            "types": {
                "x.AwsThing": {
                    "kind": "class",
                    "base": "cdktn.TerraformResource",
                    "docs": {"summary": "Represents a {@link https://registry.terraform.io/providers/hashicorp/aws/6.0.0/docs/resources/thing aws_thing}."},
                    "initializer": {"parameters": [{"name": "scope"}, {"name": "id"}, {"name": "config", "type": {"fqn": "x.AwsThingConfig"}}]},
                },
                "x.AwsThingConfig": dict(
                    struct,
                    interfaces=["cdktn.TerraformMetaArguments"],
                    properties=[
                        self.prop("name", "name", {"primitive": "string"}, optional=False),
                        self.prop("selfAttribute", "self", {"primitive": "boolean"}),
                        self.prop("rule", "rule", list_of("x.AwsThing.RuleProperty"), optional=False, block=True),
                        self.prop("settings", "settings", {"fqn": "x.AwsThing.SettingsProperty"}, block=True),
                        self.prop("ingress", "ingress", list_of("x.AwsThing.IngressProperty")),
                    ],
                ),
                "x.AwsThing.RuleProperty": dict(
                    struct, properties=[self.prop("ruleStatement", "statement", list_of("x.AwsThing.RuleProperty"), block=True)]
                ),
                "x.AwsThing.SettingsProperty": dict(struct, properties=[self.prop("mode", "mode", {"primitive": "string"})]),
                "x.AwsThing.IngressProperty": dict(struct, properties=[self.prop("port", "port", {"primitive": "number"})]),
                "x.DataAwsThing": {
                    "kind": "class",
                    "base": "cdktn.TerraformDataSource",
                    "docs": {"summary": "Represents a {@link https://registry.terraform.io/providers/hashicorp/aws/6.0.0/docs/data-sources/thing aws_thing}."},
                    "initializer": {"parameters": [{"name": "config", "type": {"fqn": "x.DataAwsThingConfig"}}]},
                },
                "x.DataAwsThingConfig": dict(struct, properties=[self.prop("filter", "filter", {"primitive": "string"})]),
                "x.AwsProvider": {
                    "kind": "class",
                    "base": "cdktn.TerraformProvider",
                    "docs": {"summary": "Represents a {@link https://registry.terraform.io/providers/hashicorp/aws/6.0.0/docs aws}."},
                    "initializer": {"parameters": [{"name": "config", "optional": True, "type": {"fqn": "x.AwsProviderConfig"}}]},
                },
                "x.AwsProviderConfig": dict(struct, properties=[self.prop("region", "region", {"primitive": "string"})]),
            }
        }

    def test_extraction_rules(self):
        extracted = tsc.extract_schema(self.assembly())
        json.dumps(extracted)  # JSON-ready despite the recursive rule block
        aws = tsc.link_schema(extracted)["aws"]
        self.assertEqual(aws["version"], "6.0.0")
        thing = aws["resource"]["aws_thing"]
        self.assertEqual(set(thing["a"]), {"name", "self", "ingress"})  # names from the docs anchors
        self.assertEqual(thing["a"]["name"][0], True)
        self.assertEqual(thing["a"]["self"][0], False)
        self.assertIsNotNone(thing["a"]["ingress"][1])  # object attribute: nested schema kept
        self.assertEqual(set(thing["b"]), {"rule", "settings"})
        self.assertEqual(thing["b"]["rule"][:2], [True, False])  # required, a list
        self.assertEqual(thing["b"]["settings"][:2], [False, True])  # optional, single
        rule = thing["b"]["rule"][2]
        self.assertIs(rule["b"]["statement"][2], rule)  # recursion preserved
        self.assertEqual(set(aws["data"]["aws_thing"]["a"]), {"filter"})
        self.assertEqual(set(aws["provider"]["a"]), {"region"})


class CommandLine(unittest.TestCase):
    def run_cli(self, *args):
        return subprocess.run(
            [sys.executable, os.path.join(HERE, "tf_schema_check.py"), *args], capture_output=True, text=True, timeout=300
        )

    def test_exit_codes_and_output(self):
        with tempfile.TemporaryDirectory() as good, tempfile.TemporaryDirectory() as bad:
            with open(os.path.join(good, "main.tf"), "w", encoding="utf-8") as fh:
                fh.write(textwrap.dedent(LAMBDA_OK).lstrip())
            with open(os.path.join(bad, "main.tf"), "w", encoding="utf-8") as fh:
                fh.write(textwrap.dedent(LAMBDA_OK).lstrip().replace("memory_size", "memory_sise"))
            ok = self.run_cli(good)
            self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
            self.assertEqual(len(ok.stdout.strip().splitlines()), 1, ok.stdout)  # the one-line summary
            self.assertRegex(ok.stdout, r"^tf_schema_check: OK: 1 module\(s\), 1 file\(s\), 1 block\(s\)")
            failed = self.run_cli(bad)
            self.assertEqual(failed.returncode, 1, failed.stdout + failed.stderr)
            self.assertIn('main.tf:7: resource.aws_lambda_function.worker: unsupported argument "memory_sise"', failed.stdout)
            missing = self.run_cli("--package", "no-such-schema-package", good)
            self.assertEqual(missing.returncode, 2, missing.stdout + missing.stderr)
            self.assertIn("no-such-schema-package is not installed", missing.stderr)

    def test_schema_cache_is_keyed_by_package_version(self):
        tsc.load_schemas()
        for package in tsc.DEFAULT_PACKAGES:
            version = importlib.metadata.version(package)
            path = os.path.join(tsc.DEFAULT_CACHE_DIR, f"{package}-{version}-f{tsc.SCHEMA_FORMAT}.json")
            self.assertTrue(os.path.isfile(path), path)


if __name__ == "__main__":
    unittest.main()
