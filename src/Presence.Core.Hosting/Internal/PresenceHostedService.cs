using Microsoft.Extensions.Hosting;

namespace Presence.Internal;

/// <summary>
/// Starts the engine with the host and stops it (draining) on shutdown. It starts in <see cref="StartingAsync"/>, before
/// any hosted service's <c>StartAsync</c> (the web server's included), so every endpoint finds the engine running; it stops
/// in <see cref="StoppedAsync"/>, after the server has finished the requests in flight. Disposal drains pending store
/// writes within <see cref="PresenceOptions.ShutdownTimeout"/> and is idempotent, so the container disposing the
/// engine again later does nothing.
/// </summary>
internal sealed class PresenceHostedService(IPresenceEngine engine) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => engine.StartAsync(cancellationToken).AsTask();

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => engine.DisposeAsync().AsTask();
}
