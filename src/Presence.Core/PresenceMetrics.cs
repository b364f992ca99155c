namespace Presence;

/// <summary>Names of the engine's metrics, for a <c>MeterListener</c> or an OpenTelemetry <c>AddMeter</c> call.</summary>
public static class PresenceMetrics
{
    /// <summary>The name of the engine's <see cref="System.Diagnostics.Metrics.Meter"/>.</summary>
    public const string MeterName = "Presence.Core";

    /// <summary>Counter: presence changes published to watchers (unit <c>{change}</c>).</summary>
    public const string Publications = "presence.publications";

    /// <summary>Counter: heartbeats received (unit <c>{heartbeat}</c>).</summary>
    public const string Heartbeats = "presence.heartbeats";

    /// <summary>Counter: devices dropped, tagged <c>reason</c> = <c>sync_timeout</c>, <c>busy_timeout</c>, <c>disconnect</c> or <c>device_cap</c>.</summary>
    public const string DevicesDropped = "presence.devices.dropped";

    /// <summary>Counter: inputs refused as invalid, tagged <c>reason</c>.</summary>
    public const string InputsRejected = "presence.inputs.rejected";

    /// <summary>Counter: failed store operations, tagged <c>operation</c> = <c>save</c> or <c>load</c>.</summary>
    public const string StoreFailures = "presence.store.failures";

    /// <summary>Counter: batches delivered to local subscriptions (unit <c>{batch}</c>).</summary>
    public const string ClientBatches = "presence.client.batches";

    /// <summary>Gauge: users whose presence the engine tracks.</summary>
    public const string TrackedUsers = "presence.users.tracked";

    /// <summary>Gauge: connected devices.</summary>
    public const string ConnectedDevices = "presence.devices.connected";

    /// <summary>Gauge: open local subscriptions.</summary>
    public const string Subscriptions = "presence.subscriptions.active";

    /// <summary>Counter: messages sent to other servers.</summary>
    public const string OutboundMessages = "presence.outbound.messages";

    /// <summary>Counter: entries (pushes, polls, unpolls) sent to other servers.</summary>
    public const string OutboundEntries = "presence.outbound.entries";

    /// <summary>Counter: failed sends to other servers (each is retried with backoff).</summary>
    public const string OutboundFailures = "presence.outbound.failures";

    /// <summary>Counter: queued entries dropped for a server that kept failing past the horizon.</summary>
    public const string OutboundDropped = "presence.outbound.dropped";

    /// <summary>Gauge: entries queued for other servers.</summary>
    public const string OutboundQueued = "presence.outbound.queued";

    /// <summary>Counter: inbound entries dropped, tagged <c>reason</c> (<c>self_origin</c>, <c>malformed</c>, <c>forged_origin</c>, <c>remote_user_cap</c>, <c>bad_state</c>, <c>status_too_long</c>, <c>not_local</c>, <c>no_interest</c>, <c>subscription_cap</c>, <c>invite_cap</c>, <c>unsolicited_answer</c>, <c>too_many_entries</c>).</summary>
    public const string InboundDropped = "presence.inbound.dropped";

    /// <summary>Counter: watchdog expiries, tagged <c>kind</c> = <c>short</c> or <c>long</c>; each sends a reminder unless there is nothing to say.</summary>
    public const string WatchdogFired = "presence.watchdog.fired";
}
