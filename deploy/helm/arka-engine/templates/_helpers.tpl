{{/* Names and labels. Pods carry app: arka-core / app: arka-rtvm, the labels the
     deployment guide's NetworkPolicy, PodDisruptionBudget and ServiceMonitor select. */}}
{{- define "arka.labels" -}}
app.kubernetes.io/name: arka-engine
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "arka.serviceAccountName" -}}
{{- if .Values.security.serviceAccount.create -}}
{{- default "arka-engine" .Values.security.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.security.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "arka.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "arka.containerSecurityContext" -}}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{- define "arka.coreConfig" -}}
{{- $config := deepCopy .Values.core.config -}}
{{- if not $config.rtvm.host -}}
{{- if .Values.rtvm.enabled -}}
{{- $_ := set $config.rtvm "host" "arka-rtvm" -}}
{{- else -}}
{{- $_ := unset $config "rtvm" -}}
{{- end -}}
{{- end -}}
{{- if .Values.pluginHost.enabled -}}
{{- $plugins := $config.plugins | default dict -}}
{{- if not $plugins.host -}}
{{- $_ := set $plugins "host" "arka-plugin-host:8082" -}}
{{- end -}}
{{- $_ := set $config "plugins" $plugins -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* The plugin host's configuration file: each plugin's settings by name. */}}
{{- define "arka.pluginHostConfig" -}}
{{- toYaml (dict "plugins" .Values.pluginHost.config) -}}
{{- end -}}
