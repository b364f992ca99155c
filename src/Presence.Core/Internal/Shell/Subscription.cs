using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Presence.Internal;

/// <summary>
/// One local user's feed. Changes gather in <c>_pending</c> (latest per user, first-queued order) until the
/// window's timer moves them into a one-slot channel as a batch. If the reader has not taken the previous
/// batch, the changes stay pending and keep coalescing: memory is bounded by the users the viewer can see.
/// </summary>
internal sealed class Subscription : IPresenceSubscription
{
    private readonly DefaultPresenceEngine _owner;
    private readonly Lock _lock = new();
    private readonly OrderedDictionary<UserId, PresenceSnapshot> _pending = [];
    private readonly Channel<IReadOnlyList<PresenceSnapshot>> _channel =
        Channel.CreateBounded<IReadOnlyList<PresenceSnapshot>>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.Wait });
    private readonly TimeSpan _window;
    private readonly ITimer _timer;
    private readonly Counter<long> _batches;
    private bool _armed;
    private bool _overdue;
    private bool _closed;

    public Subscription(DefaultPresenceEngine owner, UserId viewer, TimeSpan window, TimeProvider time, Counter<long> batches)
    {
        _owner = owner;
        Viewer = viewer;
        _window = window;
        _batches = batches;
        _timer = time.CreateTimer(static state => ((Subscription)state!).OnWindowElapsed(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public UserId Viewer { get; }

    internal int PendingCount
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count;
            }
        }
    }

    public bool TryRead(out IReadOnlyList<PresenceSnapshot> batch)
    {
        if (_channel.Reader.TryRead(out var read))
        {
            batch = MergeOverdue(read);
            return true;
        }

        batch = [];
        return false;
    }

    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => _channel.Reader.WaitToReadAsync(cancellationToken);

    public async IAsyncEnumerable<IReadOnlyList<PresenceSnapshot>> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (TryRead(out var batch))
            {
                yield return batch;
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _owner.Unsubscribe(this);
        Close();
        return ValueTask.CompletedTask;
    }

    /// <summary>Ends the feed and frees what it holds. Idempotent.</summary>
    internal void Close()
    {
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            _pending.Clear();
            _timer.Dispose();
            _channel.Writer.TryComplete();
            while (_channel.Reader.TryRead(out _))
            {
            }
        }
    }

    /// <summary>Queues a change; called under the engine's lock.</summary>
    internal void Enqueue(PresenceSnapshot snapshot)
    {
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _pending[snapshot.User] = snapshot;
            if (_window == TimeSpan.Zero)
            {
                FlushLocked();
            }
            else if (!_armed && !_overdue)
            {
                _armed = true;
                _timer.Change(_window, Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>Delivers the first batch at once: the current presence of everyone visible.</summary>
    internal void DeliverInitial(List<PresenceSnapshot> snapshots)
    {
        lock (_lock)
        {
            // Always written, even empty, so a host's initial sync can wait for it; the channel is empty here.
            _channel.Writer.TryWrite(snapshots.ToArray());
            _batches.Add(1);
        }
    }

    private void OnWindowElapsed()
    {
        try
        {
            lock (_lock)
            {
                _armed = false;
                if (!_closed)
                {
                    FlushLocked();
                }
            }
        }
        catch (Exception ex)
        {
            _owner.OnSubscriptionFailure(ex); // nothing throws out of a timer callback
        }
    }

    /// <summary>
    /// A reader that fell behind gets the batch it is owed with everything held back since folded in (latest state
    /// per user), never an old state followed by the newer one.
    /// </summary>
    private IReadOnlyList<PresenceSnapshot> MergeOverdue(IReadOnlyList<PresenceSnapshot> read)
    {
        lock (_lock)
        {
            if (!_overdue || _closed)
            {
                return read;
            }

            _overdue = false;
            var merged = new OrderedDictionary<UserId, PresenceSnapshot>();
            foreach (var snapshot in read)
            {
                merged[snapshot.User] = snapshot;
            }

            foreach (var (user, snapshot) in _pending)
            {
                merged[user] = snapshot;
            }

            _pending.Clear();
            return [.. merged.Values];
        }
    }

    private void FlushLocked()
    {
        if (_pending.Count == 0)
        {
            return;
        }

        var batch = new PresenceSnapshot[_pending.Count];
        _pending.Values.CopyTo(batch, 0);
        if (_channel.Writer.TryWrite(batch))
        {
            _pending.Clear();
            _batches.Add(1);
        }
        else
        {
            // The reader has not taken the previous batch; keep coalescing and deliver when it does.
            _overdue = true;
        }
    }
}
