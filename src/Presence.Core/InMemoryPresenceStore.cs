using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Presence;

/// <summary>
/// The default store: records in memory, kept for the life of this object. An engine restarted on the same
/// instance recovers its users; nothing survives the process. Thread-safe.
/// </summary>
public sealed class InMemoryPresenceStore : IPresenceStore
{
    private readonly ConcurrentDictionary<UserId, PresenceRecord> _records = new();

    /// <summary>Gets the number of users with a saved record.</summary>
    public int Count => _records.Count;

    /// <summary>Gets a user's saved record.</summary>
    /// <param name="user">The user.</param>
    /// <param name="record">The record when the method returns <see langword="true"/>.</param>
    /// <returns><see langword="true"/> when a record is saved for <paramref name="user"/>.</returns>
    public bool TryGet(UserId user, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PresenceRecord? record) => _records.TryGetValue(user, out record);

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

    /// <inheritdoc/>
    public async IAsyncEnumerable<PresenceRecord> LoadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var record in _records.Values)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return record;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }
}
