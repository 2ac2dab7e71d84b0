"""Make the native mongod the primary of the single-member replica set rs0.

Usage: python mongo_rs.py PORT [TIMEOUT_SECONDS]

Initiates rs0 on first use; if the data directory was made with another port, rewrites the member's
address (forced reconfig); then waits until the node is a writable primary.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

NOT_YET_INITIALIZED = 94
INVALID_REPLICA_SET_CONFIG = 93


def main() -> int:
    port = int(sys.argv[1])
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    host = f"127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    client: MongoClient[dict[str, Any]] = MongoClient(
        f"mongodb://{host}/?directConnection=true", serverSelectionTimeoutMS=int(timeout * 1000)
    )
    admin = client.admin
    try:
        admin.command("replSetGetStatus")
    except OperationFailure as exc:
        if exc.code == NOT_YET_INITIALIZED:
            config = {"_id": "rs0", "members": [{"_id": 0, "host": host}]}
            admin.command("replSetInitiate", config)
            print(f"mongo: initiated replica set rs0 with member {host}")
        elif exc.code == INVALID_REPLICA_SET_CONFIG:
            config = admin.command("replSetGetConfig")["config"]
            old = config["members"][0]["host"]
            config["members"] = [{**config["members"][0], "host": host}]
            config["version"] += 1
            admin.command("replSetReconfig", config, force=True)
            print(f"mongo: replica set member moved from {old} to {host}")
        else:
            raise
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if admin.command("hello").get("isWritablePrimary"):
                print(f"mongo: {host} is primary of rs0")
                return 0
        except PyMongoError as exc:
            last_error = exc
        time.sleep(0.2)
    print(f"mongo: {host} not primary after {timeout:.0f} s ({last_error})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
