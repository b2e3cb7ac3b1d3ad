#!/usr/bin/env bash
# A local ZooKeeper for development (standalone, Debian's `zookeeper` package): runs in the foreground until
# Ctrl-C, with its data under .data/zookeeper so sessions and state survive restarts.
#
#   tools/zookeeper/dev-zookeeper.sh [--port 2181] [--dir .data/zookeeper] [--tick 500]
#
# Then point a scheduler at it (SINGULARITY_SCHEDULER_ZOOKEEPER__QUORUM=127.0.0.1:2181, i.e. zookeeper.quorum), or
# new ZooKeeperStateStore({ connect: '127.0.0.1:2181', root: '/singularity' }).
# Look inside with: /usr/share/zookeeper/bin/zkCli.sh -server 127.0.0.1:2181 ls -R /singularity
set -euo pipefail

port=2181
dir=.data/zookeeper
tick=500
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --tick) tick=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

jar=${SINGULARITY_ZK_CLASSPATH:-/usr/share/java/zookeeper.jar}
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
if [ ! -e "${jar%%:*}" ]; then
  echo "ZooKeeper's jar is missing ($jar): apt-get install zookeeper (or set SINGULARITY_ZK_CLASSPATH)" >&2
  exit 1
fi
[ -e /usr/share/java/slf4j-simple.jar ] && jar="$jar:/usr/share/java/slf4j-simple.jar"

mkdir -p "$dir/data"
dir=$(cd "$dir" && pwd)
cat > "$dir/zoo.cfg" <<CFG
tickTime=$tick
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxSessionTimeout=60000
admin.enableServer=false
4lw.commands.whitelist=*
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
CFG

echo "ZooKeeper on 127.0.0.1:$port, data in $dir/data (Ctrl-C stops it)" >&2
exec "$java" -Xmx512m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dzookeeper.admin.enableServer=false \
  -cp "$jar" org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg"
