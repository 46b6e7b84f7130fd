// The pages' client of the key holder's agent (`certdesk agent` on 127.0.0.1): it lists the
// keys, makes key pairs and writes certificates into them, signs this site's challenges, and
// unlocks with a 解锁授权码. PINs are never typed here: the agent asks in its own window, which
// `begin()` opens from the click that starts an operation (browsers allow windows only then).
(function () {
  'use strict';
  var meta = document.querySelector('meta[name="certdesk-agent"]');
  var base = (meta && meta.content) || 'http://127.0.0.1:24680';
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var health = null;

  function failure(code, message) {
    var err = new Error(message);
    err.code = code;
    return err;
  }

  function answer(response, what) {
    return response.text().then(function (text) {
      var data = {};
      try { data = text ? JSON.parse(text) : {}; } catch (e) { data = {}; }
      if (!response.ok) {
        var e = data.error || {};
        throw failure(e.code || 'failed', e.message || (what + '出错（HTTP ' + response.status + '）'));
      }
      return data;
    });
  }

  // A request to the agent. A network failure means it is not running (or serves another site).
  function agent(method, path, body) {
    var init = { method: method, cache: 'no-store' };
    if (body !== undefined) {
      init.headers = { 'Content-Type': 'application/json' };
      init.body = JSON.stringify(body);
    }
    return fetch(base + path, init).then(
      function (response) { return answer(response, '证书助手'); },
      function () { throw failure('agent_missing', '未检测到证书助手，请先启动证书助手后重试'); }
    );
  }

  // A request to this site's API, with the session's CSRF token.
  function server(method, path, body) {
    var headers = { 'Accept': 'application/json' };
    if (csrfMeta) { headers['X-CSRF-Token'] = csrfMeta.content; }
    var init = { method: method, credentials: 'same-origin', headers: headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (response) { return answer(response, '服务器'); });
  }

  function detect() {
    return agent('GET', '/v1/health').then(function (h) { health = h; return h; });
  }

  // Call from the click handler, before anything is awaited: opens the agent's PIN window when
  // it asks for PINs there. `end()` closes it.
  function begin() {
    var win = null;
    if (!health || health.prompt === 'page') {
      win = window.open(base + '/pin', 'certdesk-pin', 'popup,width=440,height=480');
    }
    return { end: function () { if (win && !win.closed) { win.close(); } } };
  }

  function keys() { return agent('GET', '/v1/keys'); }

  // Signing certificates on the keys, as [{key, container, certificate}].
  function certificates(list) {
    var found = [];
    (list || []).forEach(function (key) {
      key.containers.forEach(function (c) {
        if (c.signing_certificate) { found.push({ key: key, container: c.name, certificate: c.signing_certificate }); }
      });
    });
    return found;
  }

  function commonName(subject) {
    var m = /CN=([^,]+)/.exec(subject || '');
    return m ? m[1] : (subject || '');
  }

  function describe(found) {
    var c = found.certificate;
    var until = new Date(c.not_after * 1000);
    return commonName(c.subject) + ' · 证书序列号 ' + c.serial + ' · CA锁 ' + found.key.serial +
      ' · 有效期至 ' + until.getFullYear() + '-' + (until.getMonth() + 1) + '-' + until.getDate();
  }

  function text(el, message, kind) {
    if (!el) { return; }
    el.textContent = message;
    el.className = kind || 'hint';
    el.hidden = !message;
  }

  // The status line every agent page has (`[data-agent-status]`): connected, or how to start
  // it with 检测并修复.
  function renderStatus(box) {
    box.innerHTML = '';
    return detect().then(function (h) {
      var p = document.createElement('p');
      p.className = 'notice';
      p.setAttribute('data-testid', 'agent-ok');
      p.textContent = '证书助手已连接（版本 ' + h.agent_version + '），已识别 ' + h.keys + ' 把CA锁。';
      box.appendChild(p);
      return h;
    }, function (err) {
      renderMissing(box);
      throw err;
    });
  }

  // `data-agent-status="compact"` (the login page, where most sign in by password): a quiet
  // line, the steps folded away.
  function renderMissing(box) {
    box.innerHTML = '';
    var compact = box.getAttribute('data-agent-status') === 'compact';
    var div = document.createElement(compact ? 'details' : 'div');
    div.className = compact ? 'hint' : 'error';
    div.setAttribute('data-testid', 'agent-missing');
    var title = document.createElement(compact ? 'summary' : 'p');
    title.textContent = compact
      ? '未检测到证书助手：使用CA锁登录前请先启动证书助手（点击查看如何启动）'
      : '未检测到证书助手。插入CA锁后，网页需要通过本机的证书助手读取CA锁、输入PIN码和签名。';
    div.appendChild(title);
    var steps = document.createElement('ol');
    [
      '确认已安装证书助手，并已启动（命令行：certdesk agent --site ' + location.origin + ' --keys-dir CA锁目录；' +
        '使用厂商UKey时加 --pkcs11-module 厂商驱动路径）。',
      '证书助手默认监听本机 ' + base + '；请勿关闭它的窗口。',
      '启动后点击下面的“检测并修复”。'
    ].forEach(function (s) { var li = document.createElement('li'); li.textContent = s; steps.appendChild(li); });
    div.appendChild(steps);
    var button = document.createElement('button');
    button.type = 'button';
    button.textContent = '检测并修复';
    button.setAttribute('data-testid', 'agent-repair');
    var report = document.createElement('ul');
    report.setAttribute('data-testid', 'agent-report');
    button.addEventListener('click', function () { repair(report, box); });
    div.appendChild(button);
    div.appendChild(report);
    box.appendChild(div);
  }

  // 检测并修复: each check with what to do about it; on success the status line comes back.
  function repair(report, box) {
    report.innerHTML = '';
    function line(ok, message) {
      var li = document.createElement('li');
      li.textContent = (ok ? '✔ ' : '✘ ') + message;
      report.appendChild(li);
    }
    fetch('/healthz', { cache: 'no-store' }).then(function (r) {
      line(r.ok, r.ok ? '平台网站可以访问' : '平台网站暂时无法访问（HTTP ' + r.status + '），请稍后再试');
    }, function () {
      line(false, '平台网站无法访问，请检查网络连接');
    }).then(function () { return detect(); }).then(function (h) {
      line(true, '证书助手正在运行，版本 ' + h.agent_version);
      var sameSite = h.site === location.host || h.site.indexOf(location.host + '/') === 0;
      line(sameSite, sameSite ? '证书助手为本站服务' : '证书助手为 ' + h.site + ' 服务，请用 --site ' + location.origin + ' 重新启动');
      h.token_libraries.forEach(function (lib) {
        line(lib.found, (lib.kind === 'pkcs11' ? 'UKey驱动 ' : 'CA锁目录 ') + lib.path + (lib.found ? ' 可用' : ' 不存在，请检查路径'));
      });
      line(h.keys > 0, h.keys > 0 ? '已识别 ' + h.keys + ' 把CA锁' : '没有识别到CA锁，请插入CA锁后重试');
      var skew = Math.round(h.now - Date.now() / 1000);
      line(Math.abs(skew) < 300, Math.abs(skew) < 300 ? '本机时间正常' : '本机时间与证书助手相差 ' + skew + ' 秒，请校准系统时间');
      line(true, 'PIN码输入方式：' + (h.prompt === 'page' ? '证书助手的PIN码窗口（请允许本站弹出窗口）' : '证书助手的命令行窗口'));
      setTimeout(function () { renderStatus(box).catch(function () {}); }, 1500);
    }, function () {
      line(false, '无法连接 ' + base + '：证书助手没有运行，或它服务的是其他网站。请按上面的步骤启动后再检测。');
    });
  }

  // Fills `select` with the signing certificates on the keys (each told as `describe` tells
  // it, plus `suffix(found)`) and enables `button` when there is one; answers a function
  // giving the chosen one.
  function offerCertificates(select, button, suffix) {
    var found = [];
    window.certdeskAgent.ready.then(function () { return keys(); }).then(function (list) {
      found = certificates(list);
      select.innerHTML = '';
      if (!found.length) { select.innerHTML = '<option value="">CA锁中没有证书</option>'; return; }
      found.forEach(function (f, i) {
        var option = document.createElement('option');
        option.value = String(i);
        option.textContent = describe(f) + (suffix ? suffix(f) : '');
        select.appendChild(option);
      });
      button.disabled = false;
    }, function () { select.innerHTML = '<option value="">未检测到证书助手</option>'; });
    return function () { return found[parseInt(select.value, 10)]; };
  }

  // One operation started by a click on `button`: the agent's window opens, `steps()` runs,
  // the window closes; `progress` tells what happens and how it ended.
  function operate(button, progress, first, steps, failed) {
    var session = begin();
    button.disabled = true;
    text(progress, first);
    return steps().then(function (result) {
      session.end();
      return result;
    }, function (err) {
      session.end();
      button.disabled = false;
      text(progress, failed + err.message, 'error');
      throw err;
    });
  }

  // Signs a fresh challenge of this site (made by `challengePath`) with the chosen key.
  function signChallenge(chosen, challengePath) {
    return server('POST', challengePath).then(function (c) {
      return agent('POST', '/v1/sign-challenge', { serial: chosen.key.serial, container: chosen.container, challenge: c.message })
        .then(function (signed) {
          return {
            challenge_id: c.challenge_id,
            certificate: signed.certificate || chosen.certificate.der,
            signature: signed.signature
          };
        });
    });
  }

  // Writes what the server issued (its certificates, the encryption key's envelope and, at
  // 制证, the sealed SO PIN — whichever it gave) into the key's container.
  function writeIssued(serial, container, issued) {
    var what = { signing_certificate: issued.signing_certificate };
    if (container) { what.container = container; }
    ['encryption_certificate', 'envelope_skf', 'so_pin_sealed'].forEach(function (field) {
      if (issued[field]) { what[field] = issued[field]; }
    });
    return agent('POST', '/v1/keys/' + encodeURIComponent(serial) + '/install', what);
  }

  // A request (DER, base64) as PEM, for the APIs that take one.
  function pem(base64, label) {
    return '-----BEGIN ' + label + '-----\n' + base64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '') +
      '\n-----END ' + label + '-----\n';
  }

  window.certdeskAgent = {
    offerCertificates: offerCertificates,
    operate: operate,
    signChallenge: signChallenge,
    writeIssued: writeIssued,
    pem: pem,
    base: base,
    detect: detect,
    begin: begin,
    keys: keys,
    certificates: certificates,
    describe: describe,
    text: text,
    server: server,
    // A key pair made on the key (or one an earlier try made) and its request.
    generate: function (serial, algorithm) {
      return agent('POST', '/v1/keys/' + encodeURIComponent(serial) + '/generate', { algorithm: algorithm });
    },
    generateIn: function (serial, container, algorithm) {
      return agent('POST', '/v1/keys/' + encodeURIComponent(serial) + '/generate', { container: container, algorithm: algorithm });
    },
    generateKeeping: function (serial, container) {
      return agent('POST', '/v1/keys/' + encodeURIComponent(serial) + '/generate', { container: container, keep_key: true });
    },
    challenge: function (serial) {
      return agent('POST', '/v1/keys/' + encodeURIComponent(serial) + '/challenge', {});
    },
    sign: function (serial, container, message) {
      return agent('POST', '/v1/sign-challenge', { serial: serial, container: container, challenge: message });
    },
    unlock: function (serial, response) {
      return agent('POST', '/v1/keys/' + encodeURIComponent(serial) + '/unlock', { response: response });
    },
    changePin: function (serial) {
      return agent('POST', '/v1/keys/' + encodeURIComponent(serial) + '/change-pin', {});
    },
    ready: null
  };

  function start() {
    var boxes = document.querySelectorAll('[data-agent-status]');
    var first = null;
    boxes.forEach(function (box) {
      var p = renderStatus(box);
      if (!first) { first = p; }
    });
    window.certdeskAgent.ready = first || detect();
    window.certdeskAgent.ready.catch(function () {});
    document.dispatchEvent(new CustomEvent('certdesk-agent-ready'));
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
