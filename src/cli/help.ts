// The examples, variables and exit codes under every command's --help.

import { exitCodeTable } from '../errors.js'
import { envNames } from '../settings/values.js'

export const helpFooter = `
Examples:
  systemd unit (ExecStart=):   iid-docker-auth --registry pierone.example.com --config /root/.docker/config.json
  cloud-init user-data:        npx --yes iid-docker-auth --registry pierone.example.com
  debugging by hand:           npx iid-docker-auth --registry pierone.example.com --dry-run --verbose
  several registries/files:    iid-docker-auth -r a.example.com,b.example.com:5000 \\
                                 -c /root/.docker/config.json -c /var/lib/kubelet/config.json
  boot unit for this machine:  iid-docker-auth install --registry pierone.example.com --now
  before baking an AMI:        iid-docker-auth remove --registry pierone.example.com
  what is wrong (3 a.m.):      iid-docker-auth check --probe

Environment (a flag wins over its variable; check, the helper and the kubelet modes also read the settings file, under both):
  ${envNames.registries}, ${envNames.config} (comma-separated), ${envNames.username},
  ${envNames.signature}, ${envNames.stripNewlines} (true/false), ${envNames.endpoint}, ${envNames.timeout},
  ${envNames.json} (true/false), ${envNames.verbosity} (quiet/normal/verbose), IID_DOCKER_AUTH_LOCK_TIMEOUT (s, default 30),
  ${envNames.attemptTimeout} (s per IMDS request, default 2), IID_DOCKER_AUTH_ENV_FILE (the unit's settings file that check,
  docker-credential-iid and the kubelet provider read; default /etc/default/iid-docker-auth),
  IID_DOCKER_AUTH_CACHE_DURATION (kubelet modes, a Go duration, default 1h), ${envNames.platform} (auto: off EC2,
  by the firmware's DMI facts, exit 69 at once; ec2: always ask IMDS; other: never), ${envNames.sysfs} (default /sys);
  AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6, AWS_EC2_METADATA_DISABLED=true, DOCKER_CONFIG.

Exit codes:
${exitCodeTable.map(([code, meaning]) => `  ${String(code).padStart(2)}  ${meaning}`).join('\n')}
`
