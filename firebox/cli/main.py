"""The `firebox` command.

`firebox serve` runs the server in this process; every other command is a client of a running server and talks to
it over HTTP only, through the same Lambda API that boto3 and the AWS CLI use (`--endpoint-url`, or
`FIREBOX_ENDPOINT`, default http://127.0.0.1:9009).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

DEFAULT_ENDPOINT = "http://127.0.0.1:9009"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="firebox", description="A self-hosted serverless platform.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the Firebox server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 9009)")
    serve.add_argument("--data-dir", help="where state is kept (default ./.firebox)")
    serve.add_argument("--config", help="TOML config file (also FIREBOX_CONFIG)")
    serve.add_argument("--region", help="region in ARNs (default us-east-1)")
    serve.add_argument("--account-id", help="account id in ARNs (default 000000000000)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--sandbox", choices=["auto", "linux", "process"], help="sandbox backend (default auto)")
    serve.add_argument(
        "--unsafe-public-bind-without-auth",
        action="store_true",
        default=None,
        help="allow a non-loopback --host although the API has no authentication",
    )

    def client_command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--endpoint-url", default=os.environ.get("FIREBOX_ENDPOINT", DEFAULT_ENDPOINT))
        return sub

    functions = client_command("functions", "list or delete functions")
    action = functions.add_subparsers(dest="action", required=True, metavar="ACTION")
    action.add_parser("list", help="list functions")
    delete = action.add_parser("delete", help="delete a function")
    delete.add_argument("name")
    queue = action.add_parser("queue", help="show a function's queued and in-flight asynchronous invocations")
    queue.add_argument("name")

    invoke = client_command("invoke", "invoke a function and print its result")
    invoke.add_argument("name")
    invoke.add_argument("--payload", default="{}", help="JSON event, or @FILE to read it from a file")
    invoke.add_argument("--log-tail", action="store_true", help="also print the last 4 KB of the invocation's log")
    invoke.add_argument("--qualifier")
    invoke.add_argument("--async", dest="asynchronous", action="store_true", help="queue it (InvocationType Event)")

    cost = client_command("cost", "show a month's usage and cost per function and version")
    cost.add_argument("--month", help="UTC month, YYYY-MM (default: the current month)")
    cost.add_argument("--function", help="only this function's versions (the totals stay the account's)")

    logs = client_command("logs", "print a function's log events (CloudWatch Logs' FilterLogEvents)")
    logs.add_argument("name")
    logs.add_argument("--since", help="how far back to start: 30s, 10m, 2h, 1d (default 10m)")
    logs.add_argument("--filter", help="a CloudWatch Logs filter pattern, such as '\"ERROR\" -DEBUG'")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new events until Ctrl-C")

    deploy = client_command("deploy", "create or update a function from a directory or zip file")
    deploy.add_argument("source", metavar="DIR_OR_ZIP")
    deploy.add_argument("--name", required=True)
    deploy.add_argument("--handler", required=True)
    deploy.add_argument("--runtime", default=f"python3.{sys.version_info.minor}")
    deploy.add_argument("--memory", type=int)
    deploy.add_argument("--timeout", type=int)
    deploy.add_argument("--role", default="arn:aws:iam::000000000000:role/firebox")
    deploy.add_argument("--env", action="append", default=[], metavar="K=V", help="environment variable (repeat)")
    deploy.add_argument("--url", action="store_true", help="give it a function URL (AuthType NONE) and print it")

    mappings = client_command("mappings", "list event source mappings, or show one, with their state and lag")
    mapping_action = mappings.add_subparsers(dest="action", required=True, metavar="ACTION")
    mapping_list = mapping_action.add_parser("list", help="list mappings with their figures since start")
    mapping_list.add_argument("--function", help="only this function's mappings")
    mapping_show = mapping_action.add_parser("show", help="one mapping's configuration and figures")
    mapping_show.add_argument("uuid")

    url = client_command("url", "print a function's URL, creating one (AuthType NONE) if it has none")
    url.add_argument("name")
    url.add_argument("--qualifier", help="an alias (default: the unqualified function)")
    url.add_argument("--auth-type", choices=["NONE", "AWS_IAM"], default="NONE", help="for a new URL")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "logs":
        from firebox.cli import logs

        try:
            return logs.run(args.endpoint_url, args.name, args.since, args.filter, args.follow)
        except logs.LogsCommandError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    from firebox.cli import client

    try:
        return _client_command(args, client)
    except client.CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _serve(args: argparse.Namespace) -> int:
    from firebox import config, server

    overrides: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "data_dir": args.data_dir,
        "region": args.region,
        "account_id": args.account_id,
        "log_level": args.log_level,
        "sandbox": args.sandbox,
        "unsafe_public_bind_without_auth": args.unsafe_public_bind_without_auth,
    }
    try:
        settings = config.load(overrides, dict(os.environ), args.config)
        server.run(settings)
    except config.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _client_command(args: argparse.Namespace, client: Any) -> int:
    lam = client.connect(args.endpoint_url)
    if args.command == "functions" and args.action == "list":
        client.print_functions(lam)
    elif args.command == "functions" and args.action == "delete":
        client.delete_function(lam, args.name)
    elif args.command == "functions" and args.action == "queue":
        client.print_queue(args.endpoint_url, args.name)
    elif args.command == "cost":
        client.print_cost(args.endpoint_url, args.month, args.function)
    elif args.command == "deploy":
        client.deploy(lam, args)
        if args.url:
            print(client.function_url(lam, args.name, None, "NONE"))
    elif args.command == "url":
        print(client.function_url(lam, args.name, args.qualifier, args.auth_type))
    elif args.command == "mappings":
        from firebox.cli import mappings

        if args.action == "list":
            mappings.print_list(lam, args.endpoint_url, args.function)
        else:
            mappings.print_one(lam, args.endpoint_url, args.uuid)
    elif args.command == "invoke":
        return int(client.invoke(lam, args))
    return 0
