//! The types of the event log: what changed, named `<resource>.<change>`.

crate::text_enum! {
    /// A kind of state change. The resource is the part before the dot.
    pub enum EventType {
        WorkspaceCreated => "workspace.created",
        WorkspaceUpdated => "workspace.updated",
        UserCreated => "user.created",
        UserUpdated => "user.updated",
        UserDeleted => "user.deleted",
        ApiTokenCreated => "api_token.created",
        ApiTokenRevoked => "api_token.revoked",
        ChannelCreated => "channel.created",
        ChannelUpdated => "channel.updated",
        ChannelDeleted => "channel.deleted",
        CustomerCreated => "customer.created",
        CustomerUpdated => "customer.updated",
        CustomerDeleted => "customer.deleted",
        CustomerRestored => "customer.restored",
        CustomerErased => "customer.erased",
        InteractionCreated => "interaction.created",
        InteractionUpdated => "interaction.updated",
        InteractionDeleted => "interaction.deleted",
        PipelineCreated => "pipeline.created",
        PipelineUpdated => "pipeline.updated",
        PipelineDeleted => "pipeline.deleted",
        DealCreated => "deal.created",
        DealUpdated => "deal.updated",
        DealStageChanged => "deal.stage_changed",
        DealDeleted => "deal.deleted",
        ReportCreated => "report.created",
        ReportUpdated => "report.updated",
        ReportDeleted => "report.deleted",
        ReportRunSucceeded => "report.run.succeeded",
        ReportRunFailed => "report.run.failed",
        BusinessHoursUpdated => "business_hours.updated",
        SlaPolicyCreated => "sla_policy.created",
        SlaPolicyUpdated => "sla_policy.updated",
        SlaPolicyDeleted => "sla_policy.deleted",
        CaseCreated => "case.created",
        CaseUpdated => "case.updated",
        CaseDeleted => "case.deleted",
    }
}

impl EventType {
    /// The resource it is about: `customer` for `customer.created`.
    pub fn resource(self) -> &'static str {
        let name = self.as_str();
        &name[..name.find('.').unwrap_or(name.len())]
    }

    /// The resources of the log, in the order of [`EventType::ALL`].
    pub fn resources() -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for t in EventType::ALL {
            if !out.contains(&t.resource()) {
                out.push(t.resource());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_the_prefix() {
        assert_eq!(EventType::DealStageChanged.resource(), "deal");
        assert_eq!(EventType::ApiTokenRevoked.resource(), "api_token");
        assert_eq!(EventType::resources().len(), 12);
        assert_eq!(EventType::SlaPolicyCreated.resource(), "sla_policy");
        assert_eq!(EventType::ReportRunFailed.resource(), "report");
        assert_eq!("customer.erased".parse::<EventType>().unwrap(), EventType::CustomerErased);
    }
}
