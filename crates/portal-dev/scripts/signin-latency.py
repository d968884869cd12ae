#!/usr/bin/env python3
"""Sign-in latency against a running portal filled by `nhsmal-dev seed` (BENCHMARKS.md, "Scale").

    scripts/signin-latency.py URL ACCOUNTS ORGANISATIONS [COUNT]

Signs in COUNT different generated accounts (person{n}@bn{org}.nhsmal.example, the seed's
password), one after another from one client, each in a fresh cookie jar; times only the POST
of the sign-in form (password step: one Argon2id hash, the account, limits and policy lookups
and a new session). Prints the median, 90th and 99th percentiles in milliseconds. Loopback only.
"""
import http.cookiejar
import re
import sys
import time
import urllib.parse
import urllib.request

PASSWORD = "generated account password 1"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main() -> None:
    url, accounts, organisations = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    if not urllib.parse.urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1"):
        sys.exit("loopback only")
    step = max(1, accounts // count)
    times = []
    for i in range(count):
        n = (i * step + 7) % accounts
        email = f"person{n}@bn{n % organisations:06d}.nhsmal.example"
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
        page = opener.open(url + "/sign-in").read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": PASSWORD}).encode()
        started = time.perf_counter()
        try:
            opener.open(url + "/sign-in", body)
            status = 200
        except urllib.error.HTTPError as e:
            status = e.code
        times.append(time.perf_counter() - started)
        if status != 303:
            sys.exit(f"sign-in of {email} answered {status}, not 303")
    times.sort()
    pct = lambda p: times[min(len(times) - 1, int(p * len(times)))] * 1000
    print(f"{count} sign-ins: median {pct(0.5):.1f} ms, p90 {pct(0.9):.1f} ms, p99 {pct(0.99):.1f} ms")


if __name__ == "__main__":
    main()
