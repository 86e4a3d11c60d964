// Names of what install puts on a machine; no imports, so the help text can use them cheaply.
export const unitName = 'iid-docker-auth.service'
export const defaultUnitDir = '/etc/systemd/system'
export const environmentFilePath = '/etc/default/iid-docker-auth'
/** Where the deb and rpm packages put the unit; when it is there, the package is in charge of it. */
export const packageUnitPath = '/usr/lib/systemd/system/iid-docker-auth.service'
/** Where the packages put the executable. */
export const packageExecutable = '/usr/bin/iid-docker-auth'
