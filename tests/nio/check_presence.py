#!/usr/bin/python3
"""A real Matrix client library (matrix-nio) sets and reads presence through the sample homeserver,
and sees presence in /sync. Usage: check_presence.py BASE_URL SERVER_NAME. Exit 0 when every check passes."""
import asyncio
import sys

from nio import AsyncClient, PresenceGetResponse, PresenceSetResponse, SyncResponse


def client(base, user, server):
    c = AsyncClient(base, f"@{user}:{server}")
    c.access_token = f"token-{user}"
    c.user_id = f"@{user}:{server}"
    c.device_id = f"DEV-{user}"
    return c


async def main(base, server):
    alice, bob = client(base, "alice", server), client(base, "bob", server)
    failures = []
    try:
        set_response = await alice.set_presence("online", "typing from nio")
        if not isinstance(set_response, PresenceSetResponse):
            failures.append(f"set_presence: {set_response}")

        got = await bob.get_presence(f"@alice:{server}")
        if not isinstance(got, PresenceGetResponse):
            failures.append(f"get_presence: {got}")
        elif got.presence != "online" or got.status_msg != "typing from nio" or got.currently_active is not True:
            failures.append(f"get_presence returned {got.presence!r}, {got.status_msg!r}, {got.currently_active!r}")

        synced = await bob.sync(timeout=0, set_presence="online")
        if not isinstance(synced, SyncResponse):
            failures.append(f"sync: {synced}")
        else:
            seen = {(e.user_id, e.presence, e.status_msg) for e in synced.presence_events}
            if (f"@alice:{server}", "online", "typing from nio") not in seen:
                failures.append(f"sync presence events: {seen}")
    finally:
        await alice.close()
        await bob.close()

    for failure in failures:
        print("nio check failed:", failure)
    print(f"matrix-nio: {3 - len(failures)} of 3 checks passed")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2])))
