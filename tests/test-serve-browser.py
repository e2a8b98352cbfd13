#!/usr/bin/python3
"""test-serve-browser.py — the page of `m3ret serve` in Debian's Chromium,
headless, driven by chromedriver: load it, upload a file, wait for the
thumbnails, check their labels against the API's answer for the same file,
filter by modality, open one larger, and save screenshots under
tests/test-serve-browser.out/.  Skips (77) where Chromium, chromedriver or
python3-selenium is missing."""
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_fixture as fx  # noqa: E402

SKIP = 77


def main():
    paths = fx.chromium_paths()
    if paths is None:
        print('SKIP: Chromium or chromedriver is not installed (setup.sh installs chromium '
              'and chromium-driver)')
        return SKIP
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select, WebDriverWait
    except ImportError:
        print('SKIP: python3-selenium is not installed (setup.sh installs it)')
        return SKIP
    out = os.path.join(fx.BUILDDIR or '.', 'test-serve-browser.out')
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    archive = fx.Archive()
    server = fx.Server(archive)
    driver = None
    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)
            print('FAIL: ' + what, flush=True)

    try:
        options = webdriver.ChromeOptions()
        options.binary_location = paths[0]
        for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                    '--window-size=1200,900', '--user-data-dir=' + os.path.join(out, 'profile')):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(paths[1]), options=options)
        wait = WebDriverWait(driver, 20)
        driver.get(server.base + '/')
        wait.until(lambda d: 'cases indexed' in d.find_element(By.ID, 'info').text)
        check('%d cases indexed' % len(archive.items) in driver.find_element(By.ID, 'info').text,
              'info line: ' + driver.find_element(By.ID, 'info').text)

        file = archive.query_of('xray')
        status, want = server.json(server.post_file('/api/query', file, {'k': 10}))
        check(status == 200, 'API query: %d' % status)
        want_labels = [r['label'] for r in want['results']]

        def loaded(d):
            if d.find_element(By.TAG_NAME, 'body').get_attribute('data-state') != 'done':
                return False
            imgs = d.find_elements(By.CSS_SELECTOR, '.result img')
            return imgs and all(d.execute_script('return arguments[0].naturalWidth', i) > 0
                                for i in imgs)

        driver.find_element(By.ID, 'file').send_keys(file)
        wait.until(loaded)
        labels = [e.text for e in driver.find_elements(By.CSS_SELECTOR, '.result .label')]
        check(labels == want_labels, 'page labels %s, API %s' % (labels, want_labels))
        widths = [driver.execute_script('return arguments[0].naturalWidth', i)
                  for i in driver.find_elements(By.CSS_SELECTOR, '.result img')]
        check(widths and set(widths) == {128}, 'thumbnail widths %s' % widths)
        check(driver.find_element(By.ID, 'query-modality').text == 'read as xray',
              'query modality: ' + driver.find_element(By.ID, 'query-modality').text)
        driver.save_screenshot(os.path.join(out, 'results.png'))

        # filter by modality: only CT cases
        driver.execute_script("document.body.dataset.state = ''")
        Select(driver.find_element(By.ID, 'filter')).select_by_value('ct')
        wait.until(loaded)
        mods = {e.text for e in driver.find_elements(By.CSS_SELECTOR, '.result .modality')}
        check(mods == {'ct'}, 'filter ct shows %s' % mods)
        driver.save_screenshot(os.path.join(out, 'filtered.png'))

        # open one larger
        driver.find_elements(By.CSS_SELECTOR, '.result')[0].click()
        wait.until(lambda d: d.execute_script(
            "const i = document.getElementById('viewer-img');"
            "return !document.getElementById('viewer').hidden && i.naturalWidth"))
        big = driver.execute_script("return document.getElementById('viewer-img').naturalWidth")
        check(big == 512, 'the larger view is %s pixels wide' % big)
        driver.save_screenshot(os.path.join(out, 'viewer.png'))
        logs = [e for e in driver.get_log('browser') if e.get('level') == 'SEVERE']
        check(not logs, 'browser console errors: %s' % logs)
    finally:
        if driver is not None:
            driver.quit()
        check(server.stop() == 0, 'server exit')
        shutil.rmtree(archive.dir, ignore_errors=True)
        shutil.rmtree(os.path.join(out, 'profile'), ignore_errors=True)
    print('%s: %d failure(s); screenshots in %s' % ('FAIL' if failures else 'PASS',
                                                    len(failures), out))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
