namespace Presence;

/// <summary>Names of the PostgreSQL store's metrics, for a <c>MeterListener</c> or an OpenTelemetry <c>AddMeter</c> call.</summary>
public static class PostgreSqlPresenceMetrics
{
    /// <summary>The name of the store's <see cref="System.Diagnostics.Metrics.Meter"/>.</summary>
    public const string MeterName = "Presence.Core.PostgreSql";

    /// <summary>Counter: presence records written (unit <c>{row}</c>).</summary>
    public const string RowsWritten = "presence.store.postgresql.rows.written";

    /// <summary>Counter: presence records refused because the pending bound was reached (unit <c>{row}</c>).</summary>
    public const string RowsDropped = "presence.store.postgresql.rows.dropped";

    /// <summary>Counter: failed database operations, tagged <c>operation</c> (<c>flush</c>, <c>load</c>, <c>list</c>, <c>peer_subscription</c>, <c>migrate</c>) and <c>transient</c>.</summary>
    public const string Failures = "presence.store.postgresql.failures";

    /// <summary>Gauge: presence records waiting to be written (unit <c>{row}</c>).</summary>
    public const string RowsPending = "presence.store.postgresql.rows.pending";
}
