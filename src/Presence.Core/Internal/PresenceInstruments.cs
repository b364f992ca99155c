using System.Diagnostics.Metrics;

namespace Presence.Internal;

/// <summary>The engine's instruments, on a meter from the host's <see cref="IMeterFactory"/> when there is one.</summary>
internal sealed class PresenceInstruments : IDisposable
{
    private readonly Meter _meter;
    private readonly bool _ownsMeter;

    public PresenceInstruments(IMeterFactory? meterFactory, Func<long> heartbeats, Func<int> trackedUsers, Func<int> connectedDevices, Func<int> subscriptions, Func<int> queuedOutbound)
    {
        if (meterFactory is null)
        {
            _meter = new Meter(PresenceMetrics.MeterName);
            _ownsMeter = true;
        }
        else
        {
            _meter = meterFactory.Create(PresenceMetrics.MeterName);
        }

        Publications = _meter.CreateCounter<long>(PresenceMetrics.Publications, "{change}", "Presence changes published to watchers.");
        DevicesDropped = _meter.CreateCounter<long>(PresenceMetrics.DevicesDropped, "{device}", "Devices dropped, by reason.");
        InputsRejected = _meter.CreateCounter<long>(PresenceMetrics.InputsRejected, "{input}", "Inputs refused as invalid, by reason.");
        StoreFailures = _meter.CreateCounter<long>(PresenceMetrics.StoreFailures, "{failure}", "Failed store operations.");
        ClientBatches = _meter.CreateCounter<long>(PresenceMetrics.ClientBatches, "{batch}", "Batches delivered to local subscriptions.");
        OutboundMessages = _meter.CreateCounter<long>(PresenceMetrics.OutboundMessages, "{message}", "Messages sent to other servers.");
        OutboundEntries = _meter.CreateCounter<long>(PresenceMetrics.OutboundEntries, "{entry}", "Entries (pushes, polls, unpolls) sent to other servers.");
        OutboundFailures = _meter.CreateCounter<long>(PresenceMetrics.OutboundFailures, "{failure}", "Failed sends to other servers.");
        OutboundDropped = _meter.CreateCounter<long>(PresenceMetrics.OutboundDropped, "{entry}", "Queued entries dropped for a server that kept failing past the horizon.");
        InboundDropped = _meter.CreateCounter<long>(PresenceMetrics.InboundDropped, "{entry}", "Inbound entries dropped, by reason.");
        WatchdogFired = _meter.CreateCounter<long>(PresenceMetrics.WatchdogFired, "{reminder}", "Watchdog expiries, by kind (short or long).");
        _meter.CreateObservableGauge(PresenceMetrics.OutboundQueued, queuedOutbound, "{entry}", "Entries queued for other servers.");
        _meter.CreateObservableCounter(PresenceMetrics.Heartbeats, heartbeats, "{heartbeat}", "Heartbeats received.");
        _meter.CreateObservableGauge(PresenceMetrics.TrackedUsers, trackedUsers, "{user}", "Users whose presence is tracked.");
        _meter.CreateObservableGauge(PresenceMetrics.ConnectedDevices, connectedDevices, "{device}", "Connected devices.");
        _meter.CreateObservableGauge(PresenceMetrics.Subscriptions, subscriptions, "{subscription}", "Open local subscriptions.");
    }

    public Counter<long> Publications { get; }

    public Counter<long> DevicesDropped { get; }

    public Counter<long> InputsRejected { get; }

    public Counter<long> StoreFailures { get; }

    public Counter<long> ClientBatches { get; }

    public Counter<long> OutboundMessages { get; }

    public Counter<long> OutboundEntries { get; }

    public Counter<long> OutboundFailures { get; }

    public Counter<long> OutboundDropped { get; }

    public Counter<long> InboundDropped { get; }

    public Counter<long> WatchdogFired { get; }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
