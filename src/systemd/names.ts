// Names of what install puts on a machine; no imports, so the help text can use them cheaply.
export const unitName = 'iid-docker-auth.service'
export const defaultUnitDir = '/etc/systemd/system'
export const environmentFilePath = '/etc/default/iid-docker-auth'
