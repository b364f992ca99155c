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
}
