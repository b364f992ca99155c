using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Presence;

/// <summary>The default presence-list store: relations in memory, kept for the life of this object. Thread-safe.</summary>
public sealed class InMemoryPresenceListStore : IPresenceListStore
{
    private readonly ConcurrentDictionary<(UserId Observer, UserId Observed), PresenceListEntry> _entries = new();

    /// <summary>Gets the number of stored relations.</summary>
    public int Count => _entries.Count;

    /// <inheritdoc/>
    public ValueTask SaveAsync(PresenceListEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        cancellationToken.ThrowIfCancellationRequested();
        _entries[(entry.Observer, entry.Observed)] = entry;
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask RemoveAsync(UserId observer, UserId observed, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _entries.TryRemove((observer, observed), out _);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<PresenceListEntry> LoadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var entry in _entries.Values)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return entry;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }
}
