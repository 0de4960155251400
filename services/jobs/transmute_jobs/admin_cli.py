"""``transmute-admin``: API keys and tenant quotas, straight through the jobs service's
access API (TRANSMUTE_JOBS_ADDRESS), so it works before any key exists, e.g. with
``kubectl exec`` into a jobs pod.

  transmute-admin keys create --tenant acme --role admin [--name ci] [--expires-in 86400]
  transmute-admin keys list --tenant acme
  transmute-admin keys revoke --tenant acme KEY_ID
  transmute-admin tenants show acme
  transmute-admin tenants set acme submissions_per_minute=60 allowed_targets='["webp"]'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from transmute_common.errors import TransmuteError
from transmute_common.jobs_client import JobsClient
from transmute_common.keys import ROLES, ApiKey
from transmute_common.settings import Settings


def _key_line(key: ApiKey) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in key.public().items()}


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


async def run(args: argparse.Namespace, address: str) -> Any:
    client = JobsClient(address)
    access = client.access
    try:
        if args.what == "keys" and args.action == "create":
            expires = (
                datetime.now(UTC) + timedelta(seconds=args.expires_in) if args.expires_in else None
            )
            key, token = await access.create_key(args.tenant, args.role, args.name, expires)
            return {**_key_line(key), "token": token}
        if args.what == "keys" and args.action == "list":
            return [_key_line(k) for k in await access.list_keys(args.tenant)]
        if args.what == "keys" and args.action == "revoke":
            return _key_line(await access.revoke_key(args.tenant, args.key_id))
        if args.what == "tenants" and args.action == "show":
            return {"tenant": args.tenant, "settings": await access.get_tenant(args.tenant)}
        settings = await access.get_tenant(args.tenant)
        for item in args.settings:
            name, sep, value = item.partition("=")
            if not sep:
                raise SystemExit(f"expected name=value, got {item!r}")
            if value == "":
                settings.pop(name, None)  # name= removes an override
            else:
                settings[name] = _value(value)
        await access.put_tenant(args.tenant, settings)
        return {"tenant": args.tenant, "settings": await access.get_tenant(args.tenant)}
    finally:
        await client.close()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="transmute-admin", description=__doc__.split("\n\n")[0])
    what = p.add_subparsers(dest="what", required=True)
    keys = what.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="make a key; its token is printed once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--role", choices=ROLES, default="user")
    create.add_argument("--name", default="")
    create.add_argument("--expires-in", type=int, default=0, help="seconds; 0: until revoked")
    listing = keys.add_parser("list", help="a tenant's keys (never their secrets)")
    listing.add_argument("--tenant", required=True)
    revoke = keys.add_parser("revoke", help="refuse a key from now on")
    revoke.add_argument("--tenant", required=True)
    revoke.add_argument("key_id")
    tenants = what.add_parser("tenants", help="quota overrides")
    actions = tenants.add_subparsers(dest="action", required=True)
    actions.add_parser("show").add_argument("tenant")
    change = actions.add_parser("set", help="name=value (JSON) sets, name= removes")
    change.add_argument("tenant")
    change.add_argument("settings", nargs="+")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result = asyncio.run(run(args, Settings().jobs_address))
    except TransmuteError as err:
        print(f"transmute-admin: {err.code}: {err.message}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
