#!/bin/bash
# usage: api.sh PORT KEY JSON
K=$(printf '%s' "$2" | base64)
curl -s -w '\n[HTTP %{http_code}]\n' -X POST -H "Authorization: X-Dovecot-API $K" -H 'Content-Type: application/json' --max-time 10 -d "$3" http://127.0.0.1:$1/doveadm/v1
