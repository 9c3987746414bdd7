// maildev (the SMTP catcher the suite mails through) on ports the system picks. Its
// command line refuses port 0, its programmatic API takes it; this prints the ports it
// bound as `maildev listening: smtp PORT web PORT` and runs until SIGTERM.
import { MailDev } from 'maildev';

const maildev = new MailDev({ ip: '127.0.0.1', webIp: '127.0.0.1', smtp: 0, web: 0, silent: true });
const servers = await maildev.start();
const smtp = servers.smtp.getAddress().port;
const web = servers.api.getAddress().port;
console.log(`maildev listening: smtp ${smtp} web ${web}`);
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    await maildev.stop();
    process.exit(0);
  });
}
