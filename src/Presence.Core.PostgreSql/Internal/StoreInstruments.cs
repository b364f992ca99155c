using System.Diagnostics.Metrics;

namespace Presence.PostgreSql.Internal;

/// <summary>The store's instruments, on a meter from the host's <see cref="IMeterFactory"/> when there is one.</summary>
internal sealed class StoreInstruments : IDisposable
{
    private readonly Meter _meter;
    private readonly bool _ownsMeter;

    public StoreInstruments(IMeterFactory? meterFactory, Func<int> pending)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(PostgreSqlPresenceMetrics.MeterName) ?? new Meter(PostgreSqlPresenceMetrics.MeterName);
        RowsWritten = _meter.CreateCounter<long>(PostgreSqlPresenceMetrics.RowsWritten, "{row}", "Presence records written to PostgreSQL.");
        RowsDropped = _meter.CreateCounter<long>(PostgreSqlPresenceMetrics.RowsDropped, "{row}", "Presence records refused: the pending bound was reached.");
        Failures = _meter.CreateCounter<long>(PostgreSqlPresenceMetrics.Failures, "{failure}", "Failed PostgreSQL operations, by operation.");
        _meter.CreateObservableGauge(PostgreSqlPresenceMetrics.RowsPending, pending, "{row}", "Presence records waiting to be written.");
    }

    public Counter<long> RowsWritten { get; }

    public Counter<long> RowsDropped { get; }

    public Counter<long> Failures { get; }

    public void Failed(string operation, bool transient)
        => Failures.Add(1, new KeyValuePair<string, object?>("operation", operation), new KeyValuePair<string, object?>("transient", transient));

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
