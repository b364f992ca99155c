namespace Presence;

/// <summary>
/// Where presence that must survive a restart lives. The engine writes behind (it never waits on the
/// store on a client's path) and reads everything once, when it starts. Implementations must be safe
/// for one writer and one reader at a time.
/// </summary>
public interface IPresenceStore
{
    /// <summary>Saves records, replacing any earlier record of the same user.</summary>
    /// <param name="records">The records; each user appears at most once.</param>
    /// <param name="cancellationToken">Cancels the save.</param>
    /// <returns>A task that completes when the records are durable.</returns>
    ValueTask SaveAsync(IReadOnlyList<PresenceRecord> records, CancellationToken cancellationToken);

    /// <summary>Reads every saved record.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The records, in any order.</returns>
    IAsyncEnumerable<PresenceRecord> LoadAllAsync(CancellationToken cancellationToken);
}
