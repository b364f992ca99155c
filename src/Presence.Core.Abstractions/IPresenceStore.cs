namespace Presence;

/// <summary>
/// Where presence that must survive a restart lives. The engine writes behind (it never waits on the store on a client's
/// path) and reads a user's record when it needs that user and does not hold them — after a restart, or after the user left
/// memory — in batches when many are needed at once. Startup reads nothing. Implementations must be safe for one writer and
/// several readers at a time.
/// </summary>
public interface IPresenceStore
{
    /// <summary>Saves records, replacing any earlier record of the same user.</summary>
    /// <param name="records">The records; each user appears at most once.</param>
    /// <param name="cancellationToken">Cancels the save.</param>
    /// <returns>A task that completes when the records are durable.</returns>
    ValueTask SaveAsync(IReadOnlyList<PresenceRecord> records, CancellationToken cancellationToken);

    /// <summary>Reads the records of the given users.</summary>
    /// <param name="users">The users; each appears once.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The records found, in any order; users without a record are simply absent.</returns>
    ValueTask<IReadOnlyList<PresenceRecord>> LoadAsync(IReadOnlyCollection<UserId> users, CancellationToken cancellationToken);
}
