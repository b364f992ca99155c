namespace Presence;

/// <summary>
/// Thresholds of the presence health check (<c>AddHealthChecks().AddPresence()</c>): above any of them the check reports
/// degraded. Named after the health check registration, so two registrations may differ.
/// </summary>
public sealed class PresenceHealthCheckOptions
{
    /// <summary>The default <see cref="MaxOutboundQueueDepth"/>.</summary>
    public const int DefaultMaxOutboundQueueDepth = 100_000;

    /// <summary>The default <see cref="MaxUnsavedUsers"/>.</summary>
    public const int DefaultMaxUnsavedUsers = 100_000;

    /// <summary>The default <see cref="MaxPendingLoads"/>.</summary>
    public const int DefaultMaxPendingLoads = 10_000;

    /// <summary>Gets or sets how many presence entries may wait for other servers before the check reports degraded.</summary>
    /// <value>The default value is 100,000.</value>
    public int MaxOutboundQueueDepth { get; set; } = DefaultMaxOutboundQueueDepth;

    /// <summary>Gets or sets how many users may have unsaved changes before the check reports degraded.</summary>
    /// <value>The default value is 100,000.</value>
    public int MaxUnsavedUsers { get; set; } = DefaultMaxUnsavedUsers;

    /// <summary>Gets or sets how many store reads may be pending before the check reports degraded.</summary>
    /// <value>The default value is 10,000.</value>
    public int MaxPendingLoads { get; set; } = DefaultMaxPendingLoads;
}
