namespace Presence;

/// <summary>
/// A read-only view of a <see cref="PostgreSqlPresenceStore"/>'s health, for a health check or a status page: healthy while
/// the last database operation succeeded.
/// </summary>
public sealed class PostgreSqlPresenceStoreStatus
{
    internal PostgreSqlPresenceStoreStatus(int consecutiveFailures, DateTimeOffset? lastFailureAt, string? lastError, DateTimeOffset? lastSuccessAt, int pendingRows, long droppedRows, int schemaVersion)
    {
        ConsecutiveFailures = consecutiveFailures;
        LastFailureAt = lastFailureAt;
        LastError = lastError;
        LastSuccessAt = lastSuccessAt;
        PendingRows = pendingRows;
        DroppedRows = droppedRows;
        SchemaVersion = schemaVersion;
    }

    /// <summary>Gets a value indicating whether the last database operation succeeded (or none has run yet).</summary>
    public bool IsHealthy => ConsecutiveFailures == 0;

    /// <summary>Gets how many database operations failed in a row since the last success.</summary>
    public int ConsecutiveFailures { get; }

    /// <summary>Gets when an operation last failed, or <see langword="null"/>.</summary>
    public DateTimeOffset? LastFailureAt { get; }

    /// <summary>Gets the last failure's message (no user data), or <see langword="null"/>.</summary>
    public string? LastError { get; }

    /// <summary>Gets when an operation last succeeded, or <see langword="null"/>.</summary>
    public DateTimeOffset? LastSuccessAt { get; }

    /// <summary>Gets how many presence records wait to be written.</summary>
    public int PendingRows { get; }

    /// <summary>Gets how many presence records were refused because <see cref="PostgreSqlPresenceStoreOptions.MaxPendingRows"/> were already waiting.</summary>
    public long DroppedRows { get; }

    /// <summary>Gets the schema version found or created at start, or 0 before the schema was checked.</summary>
    public int SchemaVersion { get; }
}
