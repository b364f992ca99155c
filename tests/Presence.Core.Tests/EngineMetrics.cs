using System.Diagnostics.Metrics;
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Presence.Core.Tests;

/// <summary>
/// One engine's metrics as a test reads them: the <see cref="IMeterFactory"/> of a DI container of its own, so the
/// engine's meter is scoped to this test, and a <see cref="MetricCollector{T}"/> on each of the engine's counters,
/// listening from before the engine is created.
/// </summary>
internal sealed class EngineMetrics : IDisposable
{
    /// <summary>Every instrument name <see cref="PresenceMetrics"/> declares.</summary>
    private static readonly string[] InstrumentNames = [.. typeof(PresenceMetrics)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(static f => f.IsLiteral && f.Name != nameof(PresenceMetrics.MeterName))
        .Select(static f => (string)f.GetRawConstantValue()!)];

    private readonly ServiceProvider _services;
    private readonly Dictionary<string, MetricCollector<long>> _counters;

    public EngineMetrics()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        MeterFactory = _services.GetRequiredService<IMeterFactory>();
        _counters = InstrumentNames.ToDictionary(
            static name => name,
            name => new MetricCollector<long>(MeterFactory, PresenceMetrics.MeterName, name),
            StringComparer.Ordinal);
    }

    /// <summary>Gets the factory to hand the engine.</summary>
    public IMeterFactory MeterFactory { get; }

    /// <summary>Gets the collector on a <see cref="Counter{T}"/> of the engine.</summary>
    /// <param name="instrument">The instrument's name, one of <see cref="PresenceMetrics"/>.</param>
    /// <returns>The collector.</returns>
    public MetricCollector<long> Counter(string instrument)
    {
        var collector = _counters[instrument];
        if (collector.Instrument is not Counter<long>)
        {
            throw new InvalidOperationException($"The engine published no Counter<long> named {instrument} on this meter factory.");
        }

        return collector;
    }

    /// <summary>Gets the sum of a counter's measurements, or of those with a tag whose value is <paramref name="tagValue"/>.</summary>
    /// <param name="instrument">The instrument's name, one of <see cref="PresenceMetrics"/>.</param>
    /// <param name="tagValue">A tag value to filter on, or <see langword="null"/> for all.</param>
    /// <returns>The sum.</returns>
    public long Total(string instrument, string? tagValue = null)
        => Counter(instrument).GetMeasurementSnapshot()
            .Where(m => tagValue is null || m.Tags.Values.Any(v => v is string s && s == tagValue))
            .Sum(static m => m.Value);

    /// <summary>Reads an observable instrument of the engine now.</summary>
    /// <param name="instrument">The instrument's name, one of <see cref="PresenceMetrics"/>.</param>
    /// <returns>The value it reports.</returns>
    public long Observe(string instrument)
    {
        // The engine's gauges observe int values, its observable counter long ones: a collector matches one type.
        using var ints = new MetricCollector<int>(MeterFactory, PresenceMetrics.MeterName, instrument);
        using var longs = new MetricCollector<long>(MeterFactory, PresenceMetrics.MeterName, instrument);
        ints.RecordObservableInstruments();
        longs.RecordObservableInstruments();
        return ints.LastMeasurement?.Value
            ?? longs.LastMeasurement?.Value
            ?? throw new InvalidOperationException($"The engine's observable instrument {instrument} reported nothing.");
    }

    public void Dispose()
    {
        foreach (var collector in _counters.Values)
        {
            collector.Dispose();
        }

        _services.Dispose();
    }
}
