#!/bin/bash
# failover.sh with B a hub (Remote = any): its outer packets to A follow the
# route to that peer as links and routes change.
FAILOVER_HUB=1 exec bash "$(dirname "$0")/failover.sh"
