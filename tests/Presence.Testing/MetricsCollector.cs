using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Presence.Testing;

/// <summary>
/// An <see cref="IMeterFactory"/> whose meters belong to one test, with a listener that sums every
/// measurement per instrument name (and per instrument and tag value).
/// </summary>
public sealed class MetricsCollector : IMeterFactory
{
    private readonly ConcurrentBag<Meter> _meters = [];
    private readonly ConcurrentDictionary<string, long> _totals = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _latest = new(StringComparer.Ordinal);
    private readonly MeterListener _listener = new();

    /// <summary>Creates a collector listening to the meters it creates.</summary>
    public MetricsCollector()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (_meters.Contains(instrument.Meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>Gets the sum of an instrument's measurements, or of those with tag <paramref name="tagValue"/>.</summary>
    /// <param name="instrument">The instrument's name.</param>
    /// <param name="tagValue">A tag value to filter on, or <see langword="null"/> for all.</param>
    /// <returns>The sum.</returns>
    public long Total(string instrument, string? tagValue = null)
        => _totals.TryGetValue(tagValue is null ? instrument : instrument + "|" + tagValue, out long total) ? total : 0;

    /// <summary>Reads the observable instruments now and returns the latest value of one of them.</summary>
    /// <param name="instrument">The observable instrument's name.</param>
    /// <returns>Its value, or zero when it reported nothing.</returns>
    public long Observe(string instrument)
    {
        _latest.Clear();
        _listener.RecordObservableInstruments();
        return _latest.TryGetValue(instrument, out long value) ? value : 0;
    }

    /// <inheritdoc/>
    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options);
        _meters.Add(meter);
        return meter;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _listener.Dispose();
        foreach (var meter in _meters)
        {
            meter.Dispose();
        }
    }

    private void Record(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string name = instrument.Name;
        if (instrument.IsObservable)
        {
            _latest[name] = value;
            return;
        }

        _totals.AddOrUpdate(name, value, (_, total) => total + value);
        foreach (var tag in tags)
        {
            _totals.AddOrUpdate(name + "|" + tag.Value, value, (_, total) => total + value);
        }
    }
}
