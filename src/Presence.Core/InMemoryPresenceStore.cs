using System.Collections.Concurrent;

namespace Presence;

/// <summary>
/// The default store: records in memory, kept for the life of this object. An engine restarted on the same
/// instance recovers its users; nothing survives the process. Thread-safe.
/// </summary>
public sealed class InMemoryPresenceStore : IPresenceStore, Presence.Internal.IInstantPresenceStore
{
    private readonly ConcurrentDictionary<UserId, PresenceRecord> _records = new();
    private int _loads;

    /// <summary>Gets the number of users with a saved record.</summary>
    public int Count => _records.Count;

    /// <summary>Gets a user's saved record.</summary>
    /// <param name="user">The user.</param>
    /// <param name="record">The record when the method returns <see langword="true"/>.</param>
    /// <returns><see langword="true"/> when a record is saved for <paramref name="user"/>.</returns>
    public bool TryGet(UserId user, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PresenceRecord? record) => _records.TryGetValue(user, out record);

    PresenceRecord? Presence.Internal.IInstantPresenceStore.Find(UserId user) => _records.GetValueOrDefault(user);

    /// <inheritdoc/>
    public ValueTask SaveAsync(IReadOnlyList<PresenceRecord> records, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(records);
        cancellationToken.ThrowIfCancellationRequested();
        foreach (var record in records)
        {
            ArgumentNullException.ThrowIfNull(record, nameof(records));
            _records[record.User] = record;
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Gets how many times <see cref="LoadAsync"/> was called (a restarted engine reads only the users it needs).</summary>
    public int Loads => Volatile.Read(ref _loads);

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<PresenceRecord>> LoadAsync(IReadOnlyCollection<UserId> users, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(users);
        cancellationToken.ThrowIfCancellationRequested();
        Interlocked.Increment(ref _loads);
        var found = new List<PresenceRecord>(users.Count);
        foreach (var user in users)
        {
            if (_records.TryGetValue(user, out var record))
            {
                found.Add(record);
            }
        }

        return ValueTask.FromResult<IReadOnlyList<PresenceRecord>>(found);
    }
}
