using System.Text;

namespace Presence.Internal;

/// <summary>
/// The federation transaction IDs seen recently, per origin, bounded in bytes: each origin keeps its newest IDs within its
/// own budget (so one server's flood never pushes out another's), and past the total budget the origin heard from least
/// recently is forgotten whole. A transaction is a replay only if its origin sent the same ID before and it is still held.
/// </summary>
internal sealed class TransactionReplayCache(int bytesPerOrigin, int maxBytes)
{
    /// <summary>What one remembered ID is charged beyond its UTF-8 bytes: the list node and the set entry.</summary>
    internal const int EntryOverheadBytes = 64;

    /// <summary>What one origin is charged beyond its IDs.</summary>
    internal const int OriginOverheadBytes = 256;

    private readonly Lock _lock = new();
    private readonly Dictionary<ServerName, Origin> _origins = [];
    private readonly LinkedList<ServerName> _recency = new();
    private long _bytes;

    /// <summary>Gets the bytes charged now.</summary>
    public long Bytes
    {
        get
        {
            lock (_lock)
            {
                return _bytes;
            }
        }
    }

    /// <summary>Records a transaction; <see langword="false"/> when its origin sent this ID before (a replay).</summary>
    public bool TryBegin(ServerName origin, string txnId)
    {
        int cost = Encoding.UTF8.GetByteCount(txnId) + EntryOverheadBytes;
        lock (_lock)
        {
            if (!_origins.TryGetValue(origin, out var entry))
            {
                entry = new Origin(_recency.AddFirst(origin), OriginOverheadBytes + Encoding.UTF8.GetByteCount(origin.Value));
                _origins[origin] = entry;
                _bytes += entry.Bytes;
            }
            else
            {
                _recency.Remove(entry.Node);
                _recency.AddFirst(entry.Node);
            }

            if (entry.Ids.ContainsKey(txnId))
            {
                return false;
            }

            entry.Ids[txnId] = entry.Order.AddLast(txnId);
            entry.Bytes += cost;
            _bytes += cost;
            while (entry.Bytes > bytesPerOrigin && entry.Order.First is { } oldest && oldest != entry.Order.Last)
            {
                Remove(entry, oldest.Value);
            }

            while (_bytes > maxBytes && _recency.Last is { } stale && stale != entry.Node)
            {
                _bytes -= _origins[stale.Value].Bytes;
                _origins.Remove(stale.Value);
                _recency.RemoveLast();
            }

            return true;
        }
    }

    /// <summary>Forgets an ID whose transaction could not be applied, so a retry applies it.</summary>
    public void Forget(ServerName origin, string txnId)
    {
        lock (_lock)
        {
            if (_origins.TryGetValue(origin, out var entry) && entry.Ids.ContainsKey(txnId))
            {
                Remove(entry, txnId);
            }
        }
    }

    private void Remove(Origin entry, string txnId)
    {
        var node = entry.Ids[txnId];
        entry.Ids.Remove(txnId);
        entry.Order.Remove(node);
        int cost = Encoding.UTF8.GetByteCount(txnId) + EntryOverheadBytes;
        entry.Bytes -= cost;
        _bytes -= cost;
    }

    private sealed class Origin(LinkedListNode<ServerName> node, int bytes)
    {
        public LinkedListNode<ServerName> Node { get; } = node;

        public Dictionary<string, LinkedListNode<string>> Ids { get; } = new(StringComparer.Ordinal);

        public LinkedList<string> Order { get; } = new();

        public long Bytes { get; set; } = bytes;
    }
}
