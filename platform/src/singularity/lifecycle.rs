//! The states a request and its deploys go through, named as Singularity names them
//! (`RequestState`, `DeployState`, `SingularityDeployFailureReason`), and each change of
//! state in one place: a method on the request's entry.
//!
//! It and [`super::state`] use each other on purpose: the entries there hold the states named
//! here, and the changes here are methods on those entries. One model, its data in one file
//! and its transitions in another, so that every transition reads in one place.

use std::fmt;

use serde::Serialize;

use super::{
    objects::Request,
    state::{DeployResult, Pending, RequestEntry},
};

/// An enum of Java's, each variant with the name `Enum.name()` gives it: written as that
/// string in JSON, and quoted by messages.
macro_rules! java_enum {
    ($(#[$meta:meta])* $kind:ident { $($(#[$doc:meta])* $variant:ident = $name:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum $kind {
            $($(#[$doc])* $variant,)*
        }

        impl $kind {
            pub fn name(self) -> &'static str {
                match self {
                    $($kind::$variant => $name,)*
                }
            }
        }

        impl Serialize for $kind {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.name())
            }
        }

        impl fmt::Display for $kind {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

java_enum! {
    /// `RequestState`, the ones this model reaches (no `DELETED`, `SYSTEM_COOLDOWN`, `FINISHED`).
    RequestState {
        Active = "ACTIVE",
        Paused = "PAUSED",
        /// Paused, with a deploy that unpauses it if it succeeds (`deployToUnpause`).
        DeployingToUnpause = "DEPLOYING_TO_UNPAUSE",
    }
}

java_enum! {
    /// `DeployState`, the ones this model reaches: `CANCELING` (a load balancer's cancel) and
    /// `FAILED_INTERNAL_STATE` (a deploy the checker lost track of) never happen here.
    DeployState {
        Waiting = "WAITING",
        Succeeded = "SUCCEEDED",
        Failed = "FAILED",
        Overdue = "OVERDUE",
        Canceled = "CANCELED",
    }
}

java_enum! {
    /// `SingularityDeployFailureReason`, the ones this model gives.
    #[expect(clippy::enum_variant_names, reason = "Singularity's names, all TASK_…")]
    FailureReason {
        /// A task that ended by itself, other than with status 0.
        TaskFailedOnStartup = "TASK_FAILED_ON_STARTUP",
        /// A task that ended with status 0 while it was expected to keep running.
        TaskExpectedRunningFinished = "TASK_EXPECTED_RUNNING_FINISHED",
        TaskFailedHealthChecks = "TASK_FAILED_HEALTH_CHECKS",
        /// Fewer tasks than instances could be started (no free ports).
        TaskCouldNotBeScheduled = "TASK_COULD_NOT_BE_SCHEDULED",
    }
}

impl RequestEntry {
    /// A request as `POST /api/requests` first saves it: `ACTIVE`, no deploy yet.
    pub fn new(request: Request) -> RequestEntry {
        RequestEntry {
            request,
            state: RequestState::Active,
            active_deploy: None,
            pending: None,
            deploys: Vec::new(),
        }
    }

    /// Pauses the request; `false` if it already was. A deploy in progress fails at the
    /// checker's next look, which is made now.
    pub fn pause(&mut self) -> bool {
        if self.state == RequestState::Paused {
            return false;
        }
        self.state = RequestState::Paused;
        if let Some(pending) = &self.pending {
            pending.wake.notify_one();
        }
        true
    }

    /// Unpauses the request; the state it is in when it was not paused.
    pub fn unpause(&mut self) -> Result<(), RequestState> {
        if self.state != RequestState::Paused {
            return Err(self.state);
        }
        self.state = RequestState::Active;
        Ok(())
    }

    /// The deploy becomes the pending one, `WAITING`; a paused request deployed with
    /// `unpauseOnSuccessfulDeploy` becomes `DEPLOYING_TO_UNPAUSE`.
    pub fn begin_deploy(&mut self, pending: Pending, unpause_on_success: bool) {
        self.pending = Some(pending);
        if unpause_on_success && self.state == RequestState::Paused {
            self.state = RequestState::DeployingToUnpause;
        }
    }

    /// Asks the pending deploy `deploy_id` to be canceled; `false` if it is not the pending
    /// one. The checker, maybe between two looks, looks at once.
    pub fn request_cancel(&mut self, deploy_id: &str, at: u64) -> bool {
        match &mut self.pending {
            Some(pending) if pending.deploy_id == deploy_id => {
                pending.cancel_requested.get_or_insert(at);
                pending.wake.notify_one();
                true
            }
            _ => false,
        }
    }

    /// Records the deploy's result and ends it (`finishDeploy`): a success becomes the active
    /// deploy and brings its updated request; a deploy to unpause leaves the request active
    /// if it succeeded, paused again otherwise. Whether it succeeded.
    pub fn finish(&mut self, deploy_id: &str, result: DeployResult) -> bool {
        let succeeded = result.state == DeployState::Succeeded;
        if let Some(deploy) = self.deploy_mut(deploy_id) {
            deploy.result = Some(result);
        }
        let pending = self.pending.take();
        if succeeded {
            self.active_deploy = Some(deploy_id.to_string());
            if let Some(updated) = pending.and_then(|p| p.updated_request) {
                self.request = updated;
            }
        }
        if self.state == RequestState::DeployingToUnpause {
            self.state = if succeeded {
                RequestState::Active
            } else {
                RequestState::Paused
            };
        }
        succeeded
    }
}

impl Pending {
    /// A deploy just accepted: `WAITING`, no instance active yet.
    pub fn new(
        deploy_id: &str,
        target_instances: usize,
        timestamp: u64,
        updated_request: Option<Request>,
    ) -> Pending {
        Pending {
            deploy_id: deploy_id.into(),
            state: DeployState::Waiting,
            target_instances,
            active_instances: 0,
            step_launch_complete: false,
            timestamp,
            updated_request,
            cancel_requested: None,
            wake: Default::default(),
        }
    }

    /// `markStepLaunchFinished`: the progress counts `active` instances and the step is
    /// complete; each change takes the time (`SingularityDeployProgress.with…`). Whether it
    /// already was complete.
    pub fn complete_step(&mut self, active: usize, now: u64) -> bool {
        let complete = self.step_launch_complete;
        if !complete {
            self.timestamp = now;
        }
        self.active_instances = active;
        self.step_launch_complete = true;
        complete
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_is_named_as_java_names_it() {
        assert_eq!(
            RequestState::DeployingToUnpause.name(),
            "DEPLOYING_TO_UNPAUSE"
        );
        assert_eq!(DeployState::Overdue.to_string(), "OVERDUE");
        assert_eq!(
            serde_json::to_value(FailureReason::TaskCouldNotBeScheduled).unwrap(),
            "TASK_COULD_NOT_BE_SCHEDULED"
        );
        assert_eq!(
            FailureReason::TaskExpectedRunningFinished.name(),
            "TASK_EXPECTED_RUNNING_FINISHED"
        );
    }
}
