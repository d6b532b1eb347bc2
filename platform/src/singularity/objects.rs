//! `SingularityRequest` and `SingularityDeploy` as Singularity keeps them: read as Jackson
//! reads them and written back as its ObjectMapper writes them (`JavaUtils.newObjectMapper`,
//! `SingularityService.initialize`: `FAIL_ON_UNKNOWN_PROPERTIES` off, `Include.NON_ABSENT`).
//! So a field the Java class does not have is dropped (a misspelled `"instance": 2` is not
//! saved), and an absent or `null` one is left out of every answer.
//!
//! The fields the model reads or checks are typed; each other property of the Java classes
//! is kept with its Java type when it is a scalar or a list of strings, and as raw JSON when
//! it is a map or an object the model does not interpret (the real server echoes those).
//! What the Java constructors fill in by themselves is filled in here too
//! ([`Deploy::constructed`]), and the request's `daemon`, which Singularity reads but
//! never writes back, is not written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub(crate) use super::jackson::{JavaDouble, JavaInt, JavaLong, JavaString};

/// A struct whose `Option` fields are left out of the JSON when `None`, as Singularity's
/// ObjectMapper leaves absent optionals out (`Include.NON_ABSENT`): said once here instead
/// of on every field. Fields end with a comma; an `Option` is written `Option<…>`; a struct
/// may have up to about 120 fields (the macro takes one a step, under the recursion limit).
/// Not serde_with's `skip_serializing_none`: that adds six crates (darling's) and some 7 to
/// 11 s of compiling to a cold build, this nothing measurable.
macro_rules! non_absent {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($fields:tt)* }) => {
        non_absent!(@munch [$(#[$meta])* $vis struct $name] [] $($fields)*);
    };
    (@munch $head:tt [$($done:tt)*]
        $(#[$field_meta:meta])* $field_vis:vis $field:ident : Option<$ty:ty>, $($rest:tt)*) => {
        non_absent!(@munch $head [$($done)*
            $(#[$field_meta])* #[serde(skip_serializing_if = "Option::is_none")]
            $field_vis $field: Option<$ty>,] $($rest)*);
    };
    (@munch $head:tt [$($done:tt)*]
        $(#[$field_meta:meta])* $field_vis:vis $field:ident : $ty:ty, $($rest:tt)*) => {
        non_absent!(@munch $head [$($done)* $(#[$field_meta])* $field_vis $field: $ty,] $($rest)*);
    };
    (@munch [$($head:tt)*] [$($done:tt)*]) => {
        $($head)* { $($done)* }
    };
}
pub(crate) use non_absent;

non_absent! {
    /// `SingularityRequest`: the properties its `@JsonCreator` takes and its getters write.
    #[derive(Clone, Debug, Default, Deserialize, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(crate) struct Request {
        pub id: Option<String>,
        pub request_type: Option<RequestType>,
        pub owners: Option<Vec<Option<String>>>,
        pub num_retries_on_failure: Option<JavaInt>,
        pub max_scale: Option<JavaInt>,
        pub schedule: Option<String>,
        pub quartz_schedule: Option<JavaString>,
        pub schedule_time_zone: Option<JavaString>,
        pub schedule_type: Option<Value>,
        pub instances: Option<JavaInt>,
        pub rack_sensitive: Option<bool>,
        pub load_balanced: Option<bool>,
        /// Read to derive `requestType`. Singularity's class has no getter for it and does not
        /// write it back.
        #[serde(skip_serializing)]
        pub daemon: Option<bool>,
        pub kill_old_non_long_running_tasks_after_millis: Option<JavaLong>,
        pub task_execution_time_limit_millis: Option<JavaLong>,
        pub scheduled_expected_runtime_millis: Option<JavaLong>,
        pub wait_at_least_millis_after_task_finishes_for_reschedule: Option<JavaLong>,
        pub rack_affinity: Option<Vec<JavaString>>,
        pub agent_placement: Option<Value>,
        pub slave_placement: Option<Value>,
        pub required_agent_attributes: Option<Value>,
        pub required_slave_attributes: Option<Value>,
        pub allowed_agent_attributes: Option<Value>,
        pub allowed_slave_attributes: Option<Value>,
        pub agent_attribute_minimums: Option<Value>,
        pub slave_attribute_minimums: Option<Value>,
        pub max_tasks_per_offer: Option<JavaInt>,
        pub allow_bounce_to_same_host: Option<bool>,
        pub group: Option<JavaString>,
        pub required_role: Option<JavaString>,
        pub read_write_groups: Option<Vec<JavaString>>,
        pub read_only_groups: Option<Vec<JavaString>>,
        pub action_permissions: Option<Value>,
        pub bounce_after_scale: Option<bool>,
        pub email_configuration_overrides: Option<Value>,
        pub skip_healthchecks: Option<bool>,
        /// Read as `hideEvenNumberAcrossRacks`, written by its getter's name.
        #[serde(
            rename(
                deserialize = "hideEvenNumberAcrossRacks",
                serialize = "hideEvenNumberAcrossRacksHint"
            )
        )]
        pub hide_even_number_across_racks_hint: Option<bool>,
        pub task_log_error_regex: Option<JavaString>,
        pub task_log_error_regex_case_sensitive: Option<bool>,
        pub task_priority_level: Option<JavaDouble>,
        pub data_center: Option<JavaString>,
    }
}

impl Request {
    /// `getInstancesSafe`: 1 when not set.
    pub fn instances(&self) -> i64 {
        self.instances.map_or(1, |n| i64::from(n.0))
    }

    /// As the constructor keeps them: the deprecated `slave*` properties are read when their
    /// `agent*` twin is absent, and their getters then answer the `agent*` value.
    pub fn with_agent_twins(mut self) -> Request {
        for (agent, slave) in [
            (&mut self.agent_placement, &mut self.slave_placement),
            (
                &mut self.required_agent_attributes,
                &mut self.required_slave_attributes,
            ),
            (
                &mut self.allowed_agent_attributes,
                &mut self.allowed_slave_attributes,
            ),
            (
                &mut self.agent_attribute_minimums,
                &mut self.slave_attribute_minimums,
            ),
        ] {
            if agent.is_none() {
                *agent = slave.take();
            }
            slave.clone_from(agent);
        }
        self
    }
}

#[derive(Clone, Copy, Deserialize, Serialize, PartialEq, Debug)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum RequestType {
    Service,
    Worker,
    Scheduled,
    OnDemand,
    RunOnce,
}

impl RequestType {
    /// `RequestType.isDeployable`: only long-running requests have tasks a deploy starts.
    pub fn is_deployable(self) -> bool {
        matches!(self, RequestType::Service | RequestType::Worker)
    }

    pub fn name(self) -> &'static str {
        match self {
            RequestType::Service => "SERVICE",
            RequestType::Worker => "WORKER",
            RequestType::Scheduled => "SCHEDULED",
            RequestType::OnDemand => "ON_DEMAND",
            RequestType::RunOnce => "RUN_ONCE",
        }
    }
}

non_absent! {
    /// `SingularityDeploy`: the properties its `@JsonCreator` takes and its getters write.
    #[derive(Clone, Debug, Default, Deserialize, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(crate) struct Deploy {
        pub request_id: Option<String>,
        pub id: Option<String>,
        pub command: Option<String>,
        pub arguments: Option<Vec<JavaString>>,
        pub container_info: Option<ContainerInfo>,
        pub custom_executor_cmd: Option<JavaString>,
        pub custom_executor_id: Option<JavaString>,
        pub custom_executor_source: Option<JavaString>,
        pub custom_executor_resources: Option<Resources>,
        pub resources: Option<Resources>,
        pub env: Option<BTreeMap<String, JavaString>>,
        pub task_env: Option<Value>,
        pub run_immediately: Option<Value>,
        pub uris: Option<Value>,
        /// Free-form, echoed as sent.
        pub metadata: Option<Value>,
        pub executor_data: Option<Value>,
        pub version: Option<JavaString>,
        pub timestamp: Option<JavaLong>,
        pub labels: Option<Value>,
        pub mesos_labels: Option<Value>,
        pub task_labels: Option<Value>,
        pub mesos_task_labels: Option<Value>,
        pub deploy_health_timeout_seconds: Option<JavaLong>,
        pub healthcheck_uri: Option<String>,
        pub healthcheck_interval_seconds: Option<JavaLong>,
        pub healthcheck_timeout_seconds: Option<JavaLong>,
        pub healthcheck_port_index: Option<JavaInt>,
        pub healthcheck_max_retries: Option<JavaInt>,
        pub healthcheck_max_total_timeout_seconds: Option<JavaLong>,
        pub healthcheck: Option<HealthcheckOptions>,
        /// Read as `healthCheckProtocol`, written by its getter's name.
        #[serde(
            rename(deserialize = "healthCheckProtocol", serialize = "healthcheckProtocol")
        )]
        pub healthcheck_protocol: Option<Value>,
        pub skip_healthchecks_on_deploy: Option<bool>,
        pub consider_healthy_after_running_for_seconds: Option<JavaLong>,
        pub service_base_path: Option<JavaString>,
        pub load_balancer_groups: Option<Vec<JavaString>>,
        pub load_balancer_port_index: Option<JavaInt>,
        pub load_balancer_options: Option<Value>,
        pub load_balancer_domains: Option<Vec<JavaString>>,
        pub load_balancer_additional_routes: Option<Vec<JavaString>>,
        pub load_balancer_template: Option<JavaString>,
        pub load_balancer_service_id_override: Option<JavaString>,
        pub load_balancer_upstream_group: Option<JavaString>,
        pub deploy_instance_count_per_step: Option<JavaInt>,
        pub deploy_step_wait_time_ms: Option<JavaInt>,
        pub auto_advance_deploy_steps: Option<bool>,
        pub max_task_retries: Option<JavaInt>,
        pub shell: Option<bool>,
        pub user: Option<JavaString>,
        pub s3_uploader_additional_files: Option<Value>,
        pub canary_deploy_settings: Option<Value>,
    }
}

impl Deploy {
    /// The Docker image it runs (checked present when the deploy was accepted).
    pub fn image(&self) -> &str {
        self.container_info
            .as_ref()
            .and_then(|c| c.docker.as_ref())
            .map_or("", |d| d.image.as_str())
    }

    /// As `SingularityDeploy`'s constructor (and those of the objects in it) leave it: the
    /// deprecated health-check fields folded, and the defaults they fill in written.
    pub fn constructed(self) -> Deploy {
        let mut deploy = self.with_healthcheck_folded();
        if let Some(docker) = (deploy.container_info.as_mut()).and_then(|c| c.docker.as_mut()) {
            docker.fill_in_defaults();
        }
        if deploy.canary_deploy_settings.is_none() {
            deploy.canary_deploy_settings = Some(deploy.canary_defaults());
        }
        (deploy.s3_uploader_additional_files).get_or_insert_with(|| json!([]));
        deploy
    }

    /// `CanaryDeploySettings` as the constructor builds it when none is given: from the
    /// deprecated `deployInstanceCountPerStep`, `deployStepWaitTimeMs` and `maxTaskRetries`
    /// when one of the first and last is there, else all its defaults.
    fn canary_defaults(&self) -> Value {
        let per_step = self.deploy_instance_count_per_step;
        let from_old = per_step.is_some() || self.max_task_retries.is_some();
        let wait = self.deploy_step_wait_time_ms.filter(|_| from_old);
        json!({
            "enableCanaryDeploy": per_step.is_some(),
            "instanceGroupSize": per_step.map_or(1, |n| n.0),
            "acceptanceMode": if wait.is_some() { "TIMED" } else { "NONE" },
            "waitMillisBetweenGroups": wait.map_or(0, |n| i64::from(n.0)),
            "allowedTasksFailuresPerGroup": self.max_task_retries.filter(|_| from_old).map_or(0, |n| n.0),
            "canaryCycleCount": 3,
        })
    }

    /// As the constructor keeps it: the deprecated `healthcheckUri` and its companions
    /// become a `healthcheck` when none is given (their `Long`s cut to `int`, as
    /// `Long::intValue` does).
    pub fn with_healthcheck_folded(mut self) -> Deploy {
        if self.healthcheck.is_none()
            && let Some(uri) = &self.healthcheck_uri
        {
            let int = |long: Option<JavaLong>| long.map(|JavaLong(n)| JavaInt(n as i32));
            self.healthcheck = Some(HealthcheckOptions {
                uri: Some(uri.clone()),
                port_index: self.healthcheck_port_index,
                protocol: self.healthcheck_protocol.clone(),
                interval_seconds: int(self.healthcheck_interval_seconds),
                response_timeout_seconds: int(self.healthcheck_timeout_seconds),
                max_retries: self.healthcheck_max_retries,
                ..HealthcheckOptions::default()
            });
        }
        self
    }
}

non_absent! {
    /// `SingularityContainerInfo`.
    #[derive(Clone, Debug, Deserialize, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(crate) struct ContainerInfo {
        #[serde(rename = "type")]
        pub kind: Option<ContainerType>,
        pub volumes: Option<Value>,
        pub docker: Option<DockerInfo>,
        pub mesos: Option<Value>,
        pub network_infos: Option<Value>,
    }
}

/// `SingularityContainerType`: Jackson takes only these names, as written.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
pub(crate) enum ContainerType {
    #[serde(rename = "MESOS")]
    Mesos,
    #[serde(rename = "DOCKER")]
    Docker,
}

/// `SingularityDockerNetworkType`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Network {
    Bridge,
    Host,
    None,
}

non_absent! {
    /// `SingularityDockerInfo`.
    #[derive(Clone, Debug, Deserialize, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(crate) struct DockerInfo {
        pub image: String,
        pub privileged: Option<bool>,
        pub network: Option<Network>,
        pub port_mappings: Option<Value>,
        pub force_pull_image: Option<bool>,
        pub parameters: Option<Value>,
        pub docker_parameters: Option<Value>,
    }
}

impl DockerInfo {
    /// `SingularityDockerInfo`'s constructor: `privileged` is a primitive (false when left
    /// out), `portMappings` and `dockerParameters` lists (the latter made from the
    /// deprecated `parameters` map), `forcePullImage` false.
    fn fill_in_defaults(&mut self) {
        self.privileged.get_or_insert(false);
        self.port_mappings.get_or_insert_with(|| json!([]));
        self.force_pull_image.get_or_insert(false);
        if self.docker_parameters.is_none() {
            let from_map = (self.parameters.as_ref().and_then(Value::as_object)).map(|map| {
                let pairs = map
                    .iter()
                    .map(|(key, value)| json!({ "key": key, "value": value }));
                pairs.collect::<Vec<_>>()
            });
            self.docker_parameters = Some(json!(from_map.unwrap_or_default()));
        }
    }
}

/// `Resources`: its constructor takes primitives, so a field left out is 0, and all four
/// are always written.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Resources {
    #[serde(default)]
    pub cpus: JavaDouble,
    #[serde(default)]
    pub memory_mb: JavaDouble,
    #[serde(default)]
    pub num_ports: JavaInt,
    #[serde(default)]
    pub disk_mb: JavaDouble,
}

non_absent! {
    /// `HealthcheckOptions`.
    #[derive(Clone, Debug, Default, Deserialize, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(crate) struct HealthcheckOptions {
        pub uri: Option<String>,
        pub port_index: Option<JavaInt>,
        pub port_number: Option<JavaLong>,
        pub protocol: Option<Value>,
        pub method: Option<Value>,
        pub startup_timeout_seconds: Option<JavaInt>,
        pub startup_delay_seconds: Option<JavaInt>,
        pub startup_interval_seconds: Option<JavaInt>,
        pub interval_seconds: Option<JavaInt>,
        pub response_timeout_seconds: Option<JavaInt>,
        pub max_retries: Option<JavaInt>,
        pub failure_status_codes: Option<Vec<JavaInt>>,
        pub healthcheck_result_file_path: Option<JavaString>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_null_fields_are_dropped_and_known_ones_kept() {
        let request: Request = serde_json::from_value(json!({
            "id": "hello", "instance": 2, "instances": "3", "owners": null,
            "group": 7, "daemon": false, "hideEvenNumberAcrossRacks": true,
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(request).unwrap(),
            json!({ "id": "hello", "instances": 3, "group": "7",
                    "hideEvenNumberAcrossRacksHint": true })
        );
        let deploy: Deploy = serde_json::from_value(json!({
            "id": "d1", "requestId": "hello", "junk": "x".repeat(100),
            "containerInfo": { "type": "DOCKER", "extra": 1,
                "docker": { "image": "i", "netwrok": "HOST" } },
            "metadata": { "free": { "form": 1 } },
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(deploy).unwrap(),
            json!({ "id": "d1", "requestId": "hello",
                    "containerInfo": { "type": "DOCKER", "docker": { "image": "i" } },
                    "metadata": { "free": { "form": 1 } } })
        );
    }

    #[test]
    fn deprecated_twins_are_kept_as_the_constructors_keep_them() {
        let request: Request =
            serde_json::from_value(json!({ "id": "r", "slavePlacement": "GREEDY" })).unwrap();
        let request = serde_json::to_value(request.with_agent_twins()).unwrap();
        assert_eq!(request["agentPlacement"], "GREEDY");
        assert_eq!(request["slavePlacement"], "GREEDY");

        let deploy: Deploy = serde_json::from_value(json!({
            "healthcheckUri": "/health", "healthcheckIntervalSeconds": 4_294_967_297_i64,
        }))
        .unwrap();
        let healthcheck = deploy.with_healthcheck_folded().healthcheck.unwrap();
        assert_eq!(healthcheck.uri.as_deref(), Some("/health"));
        // 2³² + 1 cut to an int is 1.
        assert_eq!(healthcheck.interval_seconds, Some(JavaInt(1)));
    }
}
