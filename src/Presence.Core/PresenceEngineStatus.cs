namespace Presence;

/// <summary>
/// A snapshot of an engine's health, read without waiting on the host: whether it runs, whether its store and peers are
/// failing, and how much work is queued. From <see cref="PresenceEngine.GetStatus"/>; a health check reads it.
/// </summary>
public sealed class PresenceEngineStatus
{
    internal PresenceEngineStatus(bool isStarted, bool isStopped, int consecutiveStoreFailures, int failingDestinations, int outboundQueueDepth, int unsavedUsers, int pendingLoads)
    {
        IsStarted = isStarted;
        IsStopped = isStopped;
        ConsecutiveStoreFailures = consecutiveStoreFailures;
        FailingDestinations = failingDestinations;
        OutboundQueueDepth = outboundQueueDepth;
        UnsavedUsers = unsavedUsers;
        PendingLoads = pendingLoads;
    }

    /// <summary>Gets a value indicating whether the engine has started and is not stopped: it accepts calls.</summary>
    public bool IsStarted { get; }

    /// <summary>Gets a value indicating whether the engine has been stopped (disposed).</summary>
    public bool IsStopped { get; }

    /// <summary>Gets how many store saves in a row have failed (they are being retried); zero when the last one succeeded.</summary>
    public int ConsecutiveStoreFailures { get; }

    /// <summary>Gets how many other servers the last send to failed (their retries back off); zero without a transport.</summary>
    public int FailingDestinations { get; }

    /// <summary>Gets how many presence entries wait to be sent to other servers, across destinations.</summary>
    public int OutboundQueueDepth { get; }

    /// <summary>Gets how many users have changes not yet saved to the store (write-behind).</summary>
    public int UnsavedUsers { get; }

    /// <summary>Gets how many users' records are being read from the store.</summary>
    public int PendingLoads { get; }
}
