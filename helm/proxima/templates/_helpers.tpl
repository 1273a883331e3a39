{{/*
Names. Kubernetes object names here are DNS labels (≤ 63 characters): the release prefix is cut
to 30 characters so that "<prefix>-worker-<pool>" (pool names ≤ 24, see values.schema.json) fits.
*/}}
{{- define "proxima.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "proxima.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 30 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 30 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 30 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "proxima.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object; `component` (api, controller, worker, nats, postgresql, …) is added per object. */}}
{{- define "proxima.labels" -}}
helm.sh/chart: {{ include "proxima.chart" . }}
{{ include "proxima.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: proxima
{{- end }}

{{- define "proxima.selectorLabels" -}}
app.kubernetes.io/name: {{ include "proxima.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Names of the component objects. */}}
{{- define "proxima.api.name" -}}{{ include "proxima.fullname" . }}-api{{- end }}
{{- define "proxima.controller.name" -}}{{ include "proxima.fullname" . }}-controller{{- end }}
{{- define "proxima.nats.name" -}}{{ include "proxima.fullname" . }}-nats{{- end }}
{{- define "proxima.postgresql.name" -}}{{ include "proxima.fullname" . }}-postgresql{{- end }}
{{- define "proxima.jwt.secretName" -}}
{{- default (printf "%s-jwt" (include "proxima.fullname" .)) .Values.jwt.existingSecret }}
{{- end }}
{{- define "proxima.database.secretName" -}}
{{- if .Values.postgresql.enabled }}{{ include "proxima.postgresql.name" . }}{{ else }}{{ .Values.postgresql.external.existingSecret }}{{ end }}
{{- end }}
{{- define "proxima.database.secretKey" -}}
{{- if .Values.postgresql.enabled }}DATABASE_URL{{ else }}{{ .Values.postgresql.external.existingSecretKey }}{{ end }}
{{- end }}

{{- define "proxima.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "proxima.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "proxima.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "proxima.gpuImage" -}}
{{- printf "%s:%s" .Values.image.gpuRepository (default .Chart.AppVersion .Values.image.gpuTag) }}
{{- end }}

{{/*
A worker pool: workerDefaults overridden by the pool's own values. Done key by key with `set`
(nested `autoscaling` and `pdb` too) because sprig's merge treats false and 0 as unset and would turn
a pool's `enabled: false` back into the default's true. Call as
  include "proxima.pool" (dict "root" $ "name" $name "spec" $spec) | fromYaml
*/}}
{{- define "proxima.pool" -}}
{{- $pool := deepCopy .root.Values.workerDefaults }}
{{- range $key, $value := .spec }}
{{- if and (kindIs "map" $value) (has $key (list "autoscaling" "pdb")) }}
{{- $inner := deepCopy (get $pool $key | default dict) }}
{{- range $k, $v := $value }}
{{- $_ := set $inner $k $v }}
{{- end }}
{{- $_ := set $pool $key $inner }}
{{- else }}
{{- $_ := set $pool $key $value }}
{{- end }}
{{- end }}
{{- $_ := set $pool "name" .name }}
{{- $_ := set $pool "fullname" (printf "%s-worker-%s" (include "proxima.fullname" .root) .name) }}
{{- toYaml $pool }}
{{- end }}

{{/* NATS_URL of every Proxima container. */}}
{{- define "proxima.env.nats" -}}
{{- if .Values.nats.enabled }}
- name: NATS_URL
  value: {{ printf "nats://%s:4222" (include "proxima.nats.name" .) | quote }}
{{- else if .Values.nats.external.existingSecret }}
- name: NATS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.nats.external.existingSecret }}
      key: {{ .Values.nats.external.existingSecretKey }}
{{- else }}
- name: NATS_URL
  value: {{ required "nats.external.url (or nats.external.existingSecret) is required when nats.enabled is false" .Values.nats.external.url | quote }}
{{- end }}
{{- end }}

{{/* DATABASE_URL, always from a Secret (never inlined in a manifest). */}}
{{- define "proxima.env.database" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "proxima.database.secretName" . }}
      key: {{ include "proxima.database.secretKey" . }}
{{- end }}

{{/*
The environment every Proxima container shares (config.ts reads it). Call with
  dict "root" $ "services" (list …) "jwt" true|false "extra" (list of env) "graceSeconds" N
(N: the seconds the process itself has to drain, i.e. the pod's grace period minus any preStop sleep)
*/}}
{{- define "proxima.env" -}}
{{- $root := .root }}
- name: NODE_ENV
  value: production
- name: NODE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: SERVICES
  value: {{ join "," .services | quote }}
- name: HOST
  value: "0.0.0.0"
- name: MOLECULER_NAMESPACE
  value: {{ $root.Values.config.brokerNamespace | quote }}
- name: LOG_LEVEL
  value: {{ $root.Values.config.logLevel | quote }}
- name: PROXIMA_DATA_DIR
  value: /data
- name: REQUEST_TIMEOUT_MS
  value: {{ $root.Values.config.requestTimeoutMs | quote }}
- name: RUN_LEASE_TTL_MS
  value: {{ $root.Values.config.runLeaseTtlMs | quote }}
- name: RUN_LEARNER_MEMORY_MB
  value: {{ $root.Values.config.runLearnerMemoryMb | quote }}
{{- with $root.Values.config.customEnvs }}
- name: CODE_ENV_MAX_DISCRETE_ACTIONS
  value: {{ .maxDiscreteActions | quote }}
- name: CODE_ENV_MAX_OBSERVATION_SIZE
  value: {{ .maxObservationSize | quote }}
- name: CODE_ENV_MAX_ACTION_SIZE
  value: {{ .maxActionSize | quote }}
- name: CODE_ENV_MEMORY_MB
  value: {{ .isolateMemoryMb | quote }}
- name: CODE_ENV_PROCESS_MEMORY_MB
  value: {{ .processMemoryMb | quote }}
- name: SUBMISSIONS_ENV_CHECK_CPU_MS
  value: {{ .checkCpuMs | quote }}
- name: SUBMISSIONS_ENV_CHECK_WALL_MS
  value: {{ .checkWallMs | quote }}
- name: SUBMISSIONS_ENV_CHECKS_CONCURRENT
  value: {{ .checksConcurrent | quote }}
{{- end }}
{{- /* Fair share: FAIRSHARE_WEIGHT_<ROLE> from config.fairShare.weights.<role>, and the reservation wait. */}}
{{- with $root.Values.config.fairShare }}
{{- range $role, $weight := .weights }}
- name: FAIRSHARE_WEIGHT_{{ upper $role }}
  value: {{ $weight | quote }}
{{- end }}
- name: FAIRSHARE_RESERVE_AFTER_MS
  value: {{ int64 .reserveAfterMs | quote }}
{{- end }}
{{- /* Role quotas: QUOTA_<ROLE>_<LIMIT> from config.quotas.<role>.<limit> (numbers as integers, never 1e+11). */}}
{{- $quotaNames := dict "concurrentRuns" "CONCURRENT_RUNS" "runnersPerRun" "RUNNERS_PER_RUN" "totalSteps" "TOTAL_STEPS" "gpu" "GPU" "submissionsPerMinute" "SUBMISSIONS_PER_MINUTE" "parameters" "PARAMETERS" "gradientSteps" "GRADIENT_STEPS" "samplesPerIteration" "SAMPLES_PER_ITERATION" "flopsPerIteration" "FLOPS_PER_ITERATION" "concurrentSweeps" "CONCURRENT_SWEEPS" }}
{{- range $role, $limits := $root.Values.config.quotas }}
{{- range $key, $value := $limits }}
- name: QUOTA_{{ upper $role }}_{{ get $quotaNames $key }}
  value: {{ if kindIs "bool" $value }}{{ $value | quote }}{{ else }}{{ int64 $value | quote }}{{ end }}
{{- end }}
{{- end }}
{{- /* The drain gives up 5 s before Kubernetes' SIGKILL (and after the API's preStop sleep), so it logs why. */}}
- name: SHUTDOWN_TIMEOUT_MS
  value: {{ mul (max 1 (sub (int .graceSeconds) 5)) 1000 | quote }}
{{ include "proxima.env.nats" $root | trim }}
{{ include "proxima.env.database" $root | trim }}
{{- if .jwt }}
- name: JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "proxima.jwt.secretName" $root }}
      key: {{ $root.Values.jwt.existingSecretKey }}
{{- if $root.Values.admin.existingSecret }}
- name: PROXIMA_ADMIN_EMAIL
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.admin.existingSecret }}
      key: PROXIMA_ADMIN_EMAIL
- name: PROXIMA_ADMIN_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.admin.existingSecret }}
      key: PROXIMA_ADMIN_PASSWORD
{{- end }}
{{- end }}
{{- with $root.Values.config.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Probes on `port` (a named container port): startup and liveness on /healthz, readiness on /readyz. */}}
{{- define "proxima.probes" -}}
{{- $p := .root.Values.probes }}
startupProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  {{- toYaml $p.startup | nindent 2 }}
livenessProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  {{- toYaml $p.liveness | nindent 2 }}
readinessProbe:
  httpGet:
    path: /readyz
    port: {{ .port }}
  {{- toYaml $p.readiness | nindent 2 }}
{{- end }}

{{/* The writable places of a read-only Proxima container. */}}
{{- define "proxima.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /data
{{- end }}

{{- define "proxima.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
- name: data
  emptyDir:
    sizeLimit: {{ .Values.config.dataDirSizeLimit }}
{{- end }}

{{/* Prefer spreading a component's replicas over nodes, unless the values give an affinity. */}}
{{- define "proxima.affinity" -}}
{{- if .affinity }}
{{- toYaml .affinity }}
{{- else }}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- toYaml .selector | nindent 12 }}
{{- end }}
{{- end }}
