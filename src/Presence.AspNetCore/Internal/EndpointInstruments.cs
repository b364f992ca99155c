using System.Diagnostics.Metrics;

namespace Presence.Internal;

/// <summary>The endpoints' instruments, on a meter from the app's <see cref="IMeterFactory"/> when there is one (the factory owns it).</summary>
internal sealed class EndpointInstruments
{
    public EndpointInstruments(IMeterFactory? meterFactory)
    {
        var meter = meterFactory?.Create(MatrixPresenceEndpointMetrics.MeterName) ?? new Meter(MatrixPresenceEndpointMetrics.MeterName);
        Refused = meter.CreateCounter<long>(MatrixPresenceEndpointMetrics.RequestsRefused, "{request}", "Requests the presence endpoints refused, by endpoint and status.");
        Replays = meter.CreateCounter<long>(MatrixPresenceEndpointMetrics.TransactionReplays, "{transaction}", "Federation transactions acknowledged as replays.");
    }

    public Counter<long> Refused { get; }

    public Counter<long> Replays { get; }
}
