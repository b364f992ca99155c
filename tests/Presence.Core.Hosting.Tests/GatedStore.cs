using System.Collections.Concurrent;

namespace Presence.Core.Hosting.Tests;

/// <summary>
/// A store whose saves wait for <see cref="Release"/> (or fail while <see cref="Fail"/> is set), keeping the last record
/// saved per user. <see cref="SaveStarted"/> completes when the first save begins.
/// </summary>
internal sealed class GatedStore : IPresenceStore
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ConcurrentDictionary<UserId, PresenceRecord> Saved { get; } = new();

    public Task SaveStarted => _started.Task;

    public bool Fail { get; set; }

    public void Release() => _release.TrySetResult();

    public async ValueTask SaveAsync(IReadOnlyList<PresenceRecord> records, CancellationToken cancellationToken)
    {
        _started.TrySetResult();
        if (Fail)
        {
            throw new IOException("the database is down");
        }

        await _release.Task.ConfigureAwait(false);
        foreach (var record in records)
        {
            Saved[record.User] = record;
        }
    }

    public ValueTask<IReadOnlyList<PresenceRecord>> LoadAsync(IReadOnlyCollection<UserId> users, CancellationToken cancellationToken)
        => ValueTask.FromResult<IReadOnlyList<PresenceRecord>>([]);
}
